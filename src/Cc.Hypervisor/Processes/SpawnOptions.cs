using System.Runtime.InteropServices;

namespace Cc.Hypervisor.Processes;

/// <summary>
/// What <see cref="ChildSpawner.Spawn"/> starts and exactly which descriptors the child gets. Fds 0, 1 and 2 are
/// <c>/dev/null</c> unless <see cref="Fds"/> maps them or <see cref="CaptureOutput"/> takes 1 and 2; every other
/// descriptor number in the child is closed unless <see cref="Fds"/> maps it. Nothing else of ours reaches a child.
/// </summary>
public sealed record SpawnOptions
{
    /// <summary>An absolute path; there is no PATH search.</summary>
    public required string Executable { get; init; }

    /// <summary>argv[1..]; argv[0] is <see cref="ArgumentZero"/>.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>argv[0]; null = <see cref="Executable"/>. An OCI hook's <c>args[0]</c> may differ from its path, and
    /// programs that dispatch on argv[0] (dockerd's <c>libnetwork-setkey</c> re-exec) need it as the spec says.</summary>
    public string? ArgumentZero { get; init; }

    /// <summary>The child's whole environment; null = a copy of this process's environment.</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    /// <summary>Child descriptor number → one of our handles. Numbers are unique; they may overlap the handles' own
    /// numbers in any order (the spawner goes through copies). The caller keeps owning the handles.</summary>
    public IReadOnlyList<InheritedFd> Fds { get; init; } = [];

    /// <summary>Child fds 1 and 2 share one pipe whose lines go to <see cref="OnOutputLine"/> and into
    /// <see cref="ChildProcess.Tail"/>.</summary>
    public bool CaptureOutput { get; init; }

    /// <summary>Called on the capture thread for every captured line, in order.</summary>
    public Action<string>? OnOutputLine { get; init; }

    /// <summary>The child leads a process group of its own, so <see cref="ChildProcess.SignalGroup"/> reaches what it starts.</summary>
    public bool NewProcessGroup { get; init; } = true;
}

/// <summary>A descriptor of ours (<see cref="Handle"/>) that a child receives as <see cref="ChildFd"/>.</summary>
public sealed record InheritedFd(int ChildFd, SafeHandle Handle);
