using System.Text;
using System.Text.Json.Nodes;
using Cc.TestKit;

namespace Cc.Agent.Tests.Fixtures;

// A throw-away agent world on the host: a busybox-static root filesystem, a containers directory
// and a crun wrapper. The wrapper exists because this host mounts cgroups in hybrid v1/v2 mode,
// which crun 1.8 refuses; in a private mount namespace with a bare cgroup2 mount and the cgroup
// manager disabled, crun runs containers the way it does in the guest (minus cgroup limits).
public sealed class BusyboxBundle : IDisposable
{
    private static readonly string[] s_applets =
    [
        "sh", "echo", "cat", "stty", "sleep", "uname", "seq", "head", "yes", "dd", "true", "false", "wc", "tr",
        "printf", "tty", "ls", "read", "kill", "exec", "env", "readlink", "hostname",
    ];

    // rootInWrapper: the wrapper itself gives crun its --root, so the agent's options do not say where crun keeps its
    // state (the agent then cannot find a container's exec FIFO and must fall back to `crun start`).
    public BusyboxBundle(bool rootInWrapper = false)
    {
        // Short: console socket paths live under it and sun_path holds 107 bytes.
        Root = Path.Combine("/tmp", "cca-" + Guid.NewGuid().ToString("N")[..8]);
        Shared = Path.Combine(Root, "shared");
        Rootfs = Path.Combine(Shared, "containers", "busybox", "rootfs");
        Directory.CreateDirectory(Path.Combine(Rootfs, "bin"));
        foreach (var dir in new[] { "proc", "dev", "sys", "tmp", "etc" })
        {
            Directory.CreateDirectory(Path.Combine(Rootfs, dir));
        }

        File.Copy("/bin/busybox", Path.Combine(Rootfs, "bin", "busybox"));
        foreach (var applet in s_applets)
        {
            File.CreateSymbolicLink(Path.Combine(Rootfs, "bin", applet), "busybox");
        }

        var wrapper = Path.Combine(Root, "crun-wrapper");
        var stateRoot = Path.Combine(Root, "crun");
        var crun = rootInWrapper ? $"crun --root={stateRoot}" : "crun";
        File.WriteAllText(wrapper,
            "#!/bin/sh\n" +
            $"exec unshare -m sh -c 'umount -l /sys/fs/cgroup 2>/dev/null; mount -t cgroup2 none /sys/fs/cgroup && exec {crun} \"$@\"' crun \"$@\"\n");
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        Options = new AgentOptions
        {
            ContainersDirectory = Path.Combine(Root, "containers"),
            SharedDirectory = Shared,
            RootfsDirectory = Path.Combine(Shared, "containers"),
            PodShmDirectory = Path.Combine(Root, "pod-shm"),
            RuntimePath = wrapper,
            RuntimeGlobalArguments = rootInWrapper ? ["--cgroup-manager=disabled"] : ["--cgroup-manager=disabled", $"--root={stateRoot}"],
        };
        StateRoot = stateRoot;
    }

    // Where crun keeps its state (<StateRoot>/<id>/exec.fifo, status), whichever way it is given.
    public string StateRoot { get; }

    public string Root { get; }
    public string Shared { get; }
    public string Rootfs { get; }
    public AgentOptions Options { get; }

    // A minimal OCI spec: own pid/mount/ipc/uts/network namespaces, busybox PATH, root user.
    public static byte[] Spec(params string[] args) => Encoding.UTF8.GetBytes(SpecObject(args).ToJsonString());

    public static JsonObject Process(params string[] args) => BusyboxSpec.Process(args);

    public static JsonObject SpecObject(params string[] args) => BusyboxSpec.Create(args, ownNetwork: true);

    // Runs crun as the agent does (CrunRunner: the wrapper, the global arguments, the reaper) with `arguments`; its
    // stdout, or AgentErrorException with crun's error. Not System.Diagnostics.Process: a ContainerManager in this
    // process reaps every child (ChildReaper, waitpid(-1)), and Process fails fast when its child is reaped elsewhere.
    public Task<string> CrunAsync(params string[] arguments) =>
        new Cc.Agent.Runtime.CrunRunner(Options, Cc.Agent.Processes.ChildReaper.Instance).RunAsync(Root, arguments, null, CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(30));

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // a container left behind by a failed test; its bundle is all that leaks
        }
    }
}
