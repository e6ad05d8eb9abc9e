using System.Text.Json.Nodes;

namespace Cc.TestKit;

/// <summary>
/// The minimal OCI spec the agent's tests give crun for a busybox root file system (root user, PATH=/bin, its own pid,
/// ipc, uts and mount namespaces, the usual /proc, /dev, /dev/pts, /dev/shm and read-only /sys), on the host
/// (Cc.Agent.Tests) and in a guest (Cc.Integration.Vm).
/// </summary>
public static class BusyboxSpec
{
    public static JsonObject Process(params string[] args) => new()
    {
        ["terminal"] = false,
        ["user"] = new JsonObject { ["uid"] = 0, ["gid"] = 0 },
        ["args"] = new JsonArray(args.Select(a => (JsonNode?)JsonValue.Create(a)).ToArray()),
        ["env"] = new JsonArray("PATH=/bin", "TERM=xterm"),
        ["cwd"] = "/",
    };

    /// <param name="args">The process's arguments.</param>
    /// <param name="ownNetwork">A network namespace of its own too: on the host, so that a test's container never
    /// sees the host's network; in a guest the pod's namespace is the one to share.</param>
    public static JsonObject Create(string[] args, bool ownNetwork)
    {
        var namespaces = new JsonArray(
            new JsonObject { ["type"] = "pid" },
            new JsonObject { ["type"] = "ipc" },
            new JsonObject { ["type"] = "uts" },
            new JsonObject { ["type"] = "mount" });
        if (ownNetwork)
        {
            namespaces.Add(new JsonObject { ["type"] = "network" });
        }

        return new JsonObject
        {
            ["ociVersion"] = "1.0.2",
            ["process"] = Process(args),
            ["root"] = new JsonObject { ["path"] = "rootfs", ["readonly"] = false },
            ["hostname"] = "busybox",
            ["mounts"] = new JsonArray(
                Mount("/proc", "proc", "proc", "nosuid", "noexec", "nodev"),
                Mount("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"),
                Mount("/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"),
                Mount("/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k"),
                Mount("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro")),
            ["linux"] = new JsonObject { ["namespaces"] = namespaces },
        };
    }

    private static JsonObject Mount(string destination, string type, string source, params string[] options) => new()
    {
        ["destination"] = destination,
        ["type"] = type,
        ["source"] = source,
        ["options"] = new JsonArray(options.Select(o => (JsonNode?)JsonValue.Create(o)).ToArray()),
    };
}
