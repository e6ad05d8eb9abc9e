namespace Cc.Bench.Vm;

/// <summary>
/// The container the agent benchmark runs: <c>echo hello</c> from a busybox root filesystem that the
/// host writes into the VM's shared directory (9p, mount tag ccshared) before QEMU starts, so that
/// copying busybox is never on the clock.
/// </summary>
internal static class BusyboxBundle
{
    /// <summary>Where the agent mounts the shared directory in the guest (docs/design/guest.md).</summary>
    public const string GuestShared = "/run/cc/shared";

    public const string ExpectedOutput = "hello\n";

    // A fixed OCI spec: written as text, not built with System.Text.Json, so the bench stays AOT-clean
    // without a serializer context for one constant document. The mounts are those the integration tests use
    // for a busybox container; the namespaces are those of containerd's default spec for `ctr run` (its own
    // network namespace included, so the agent does not make it wait for the modules loaded after ready).
    public const string SpecJson = """
        {
          "ociVersion": "1.0.2",
          "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": [ "echo", "hello" ],
            "env": [ "PATH=/bin" ],
            "cwd": "/"
          },
          "root": { "path": "rootfs" },
          "hostname": "bench",
          "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc", "options": [ "nosuid", "noexec", "nodev" ] },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": [ "nosuid", "strictatime", "mode=755", "size=65536k" ] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": [ "nosuid", "noexec", "nodev", "ro" ] }
          ],
          "linux": {
            "namespaces": [ { "type": "pid" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }, { "type": "network" } ]
          }
        }
        """;

    private const string Busybox = "/bin/busybox";

    /// <summary>Writes containers/<paramref name="id"/>/rootfs under the host side of the share and
    /// returns the rootfs path as the guest sees it.</summary>
    public static string Create(string sharedHostPath, string id)
    {
        if (!File.Exists(Busybox))
        {
            throw new ArgumentException($"{Busybox} is missing: install busybox-static (hack/install-deps.sh)");
        }

        var rootfs = Path.Combine(sharedHostPath, "containers", id, "rootfs");
        foreach (var dir in (string[])["bin", "proc", "dev", "sys", "tmp"])
        {
            Directory.CreateDirectory(Path.Combine(rootfs, dir));
        }

        File.Copy(Busybox, Path.Combine(rootfs, "bin", "busybox"));
        File.CreateSymbolicLink(Path.Combine(rootfs, "bin", "echo"), "busybox");
        return $"{GuestShared}/containers/{id}/rootfs";
    }
}
