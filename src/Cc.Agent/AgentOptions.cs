namespace Cc.Agent;

// Where the agent keeps things and which runtime it drives. Defaults are the guest's (docs/design/guest.md);
// tests point them at a temporary directory.
public sealed record AgentOptions
{
    // Bundles: <ContainersDirectory>/<container-id>/config.json (tmpfs in the guest).
    public string ContainersDirectory { get; init; } = "/run/cc/containers";

    // The 9p share; container root filesystems must lie under RootfsDirectory.
    public string SharedDirectory { get; init; } = "/run/cc/shared";

    // Root filesystems given in CreateContainer must be inside this directory.
    public string RootfsDirectory { get; init; } = "/run/cc/shared/containers";

    // The pod's shared /dev/shm: a tmpfs the agent mounts at boot as PID 1 (a plain directory
    // otherwise); every container of a CRI pod binds it at /dev/shm.
    public string PodShmDirectory { get; init; } = "/run/cc/pod/shm";

    public string RuntimePath { get; init; } = "/usr/bin/crun";

    // Inserted before every runtime command, e.g. "--root=/tmp/x" or "--cgroup-manager=disabled".
    public IReadOnlyList<string> RuntimeGlobalArguments { get; init; } = [];

    // Environment of the runtime process (not of the containers: theirs comes from the spec).
    public IReadOnlyList<string> RuntimeEnvironment { get; init; } = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"];

    // pivot_root(2) fails with EINVAL when the current root is the initramfs (rootfs), which it is
    // for the agent as PID 1; crun then moves the container root with MS_MOVE + chroot instead.
    public bool NoPivotRoot { get; init; }

    public string AgentVersion { get; init; } = typeof(AgentOptions).Assembly.GetName().Version?.ToString() ?? "0.0.0";
}
