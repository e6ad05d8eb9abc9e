namespace Cc.Shim.Sandbox;

/// <summary>A process of a container: the init process has an empty exec id.</summary>
public readonly record struct ProcessKey(string ContainerId, string ExecId)
{
    public bool IsInit => ExecId.Length == 0;

    /// <summary>The id containerd uses for this process in events and State: the exec id, or the container id for init.</summary>
    public string DisplayId => IsInit ? ContainerId : ExecId;

    public override string ToString() => IsInit ? ContainerId : ContainerId + "/" + ExecId;
}

/// <summary>How a process ended. Killed by signal N = 128 + N (guest.md, protocol.md §3.4).</summary>
public readonly record struct ExitStatus(uint Code, DateTimeOffset ExitedAt);

/// <summary>
/// A process's exit as the guest reports it, with the OOM kills its container's memory cgroup had counted by then
/// (since the container was created): the shim publishes any it has not published before the exit.
/// </summary>
public readonly record struct GuestExit(ExitStatus Status, ulong OomKills);

/// <summary>A rise of a container's OOM kill count in the guest: its kills since the container was created.</summary>
public readonly record struct GuestOomKills(string ContainerId, ulong Count);

/// <summary>The stdio of a process as containerd names it: "" = not connected, a path = FIFO, or a URI.</summary>
public sealed record StdioSpec(string Stdin, string Stdout, string Stderr, bool Terminal)
{
    public static StdioSpec None { get; } = new("", "", "", false);
}

/// <summary>One entry of CreateTaskRequest.rootfs.</summary>
public sealed record RootfsMount(string Type, string Source, IReadOnlyList<string> Options);

/// <summary>What Create asks of the sandbox.</summary>
public sealed record CreateContainerRequest(
    string Id,
    string Bundle,
    IReadOnlyList<RootfsMount> Rootfs,
    StdioSpec Stdio);

/// <summary>What Exec asks: <see cref="ProcessJson"/> is the OCI Process object, passed to the guest as it came.</summary>
public sealed record ExecRequest(string ContainerId, string ExecId, StdioSpec Stdio, ReadOnlyMemory<byte> ProcessJson);

/// <summary>A cached snapshot of a process for State; never requires the guest.</summary>
public sealed record ProcessSnapshot(
    ProcessKey Key,
    string Bundle,
    uint Pid,
    ProcessState State,
    StdioSpec Stdio,
    ExitStatus? Exit);

/// <summary>
/// cgroup v2 numbers of a container as the guest reports them (bytes, microseconds; "max" = <see cref="ulong.MaxValue"/>).
/// The keyed files (cpu.stat, memory.stat, memory.events) are kept whole, by the kernel's names.
/// </summary>
public sealed record ContainerStats(
    ulong CpuUsageUsec,
    ulong CpuUserUsec,
    ulong CpuSystemUsec,
    ulong MemoryUsage,
    ulong MemoryLimit,
    ulong PidsCurrent,
    ulong PidsLimit)
{
    public ulong SwapUsage { get; init; }

    public ulong SwapLimit { get; init; }

    public IReadOnlyDictionary<string, ulong> CpuStat { get; init; } = Empty;

    public IReadOnlyDictionary<string, ulong> MemoryStat { get; init; } = Empty;

    public IReadOnlyDictionary<string, ulong> MemoryEvents { get; init; } = Empty;

    private static readonly IReadOnlyDictionary<string, ulong> Empty = new Dictionary<string, ulong>();
}

/// <summary>A process inside the guest, for Pids; <paramref name="ExecId"/> names the exec it is, empty for the init and
/// the processes it started.</summary>
public sealed record GuestProcess(uint Pid, string Command, string ExecId = "");
