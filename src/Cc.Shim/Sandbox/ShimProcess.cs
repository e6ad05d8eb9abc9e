using Cc.Shim.Io;

namespace Cc.Shim.Sandbox;

/// <summary>
/// One process the shim tracks (a container's init or an exec). Its <see cref="State"/> and <see cref="Exit"/> are
/// guarded by the owning <see cref="PodSandbox"/>'s lock and change only through <see cref="MoveTo"/>.
/// </summary>
internal sealed class ShimProcess
{
    private readonly TaskCompletionSource<ExitStatus> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ShimProcess(ProcessKey key, string bundle, StdioSpec stdio, uint pid)
    {
        Key = key;
        Bundle = bundle;
        Stdio = stdio;
        Pid = pid;
    }

    public ProcessKey Key { get; }
    public string Bundle { get; }
    public StdioSpec Stdio { get; }

    /// <summary>The pid reported to containerd: the VMM's host pid (guest pids mean nothing on the host).</summary>
    public uint Pid { get; }

    public ProcessState State { get; private set; } = ProcessState.Created;

    public ExitStatus? Exit { get; private set; }

    /// <summary>The host side of the process's stdio, once opened.</summary>
    public ProcessIo? Io { get; set; }

    /// <summary>The closing of <see cref="Io"/> as registered on the sandbox's clean-up stack.</summary>
    public Lifetime.CleanupRegistration? IoRelease { get; set; }

    /// <summary>Completes with the exit status once the exit is recorded (and published).</summary>
    public Task<ExitStatus> Exited => _exited.Task;

    /// <summary>Moves to <paramref name="to"/> or throws the one invalid-transition error. Call under the sandbox lock.</summary>
    public void MoveTo(ProcessState to)
    {
        ProcessStateMachine.Check(State, to, Key.ToString());
        State = to;
    }

    /// <summary>Records the exit (Stopped) and releases waiters. Call under the sandbox lock.</summary>
    public void RecordExit(ExitStatus exit)
    {
        MoveTo(ProcessState.Stopped);
        Exit = exit;
        _exited.TrySetResult(exit);
    }

    public ProcessSnapshot Snapshot() => new(Key, Bundle, Pid, State, Stdio, Exit);
}

/// <summary>A container: its init process and its execs. Guarded by the sandbox lock.</summary>
internal sealed class ShimContainer
{
    public ShimContainer(string id, string bundle, ShimProcess init)
    {
        Id = id;
        Bundle = bundle;
        Init = init;
    }

    public string Id { get; }
    public string Bundle { get; }
    public ShimProcess Init { get; }

    /// <summary>The release of the container's rootfs and shares, registered before the first mount was made.</summary>
    public Lifetime.CleanupRegistration? RootfsRelease { get; set; }
    public Dictionary<string, ShimProcess> Execs { get; } = new(StringComparer.Ordinal);

    /// <summary>The container's memory and CPU limits as last set (Create, then each Update): what the VM's size follows.</summary>
    public PodResources Limits { get; set; } = PodResources.None;

    /// <summary>The guest's OOM kill count (since the container's creation) of the last TaskOOM published.</summary>
    public ulong OomKillsPublished { get; set; }

    /// <summary>The spec's hooks and annotations, for poststart and poststop (PodSandbox.Hooks).</summary>
    public PodSandbox.ContainerHooks? Hooks { get; init; }

    /// <summary>Serialises lifecycle calls on this container (Start, Exec, Delete, Pause, Resume), which await the guest.</summary>
    public SemaphoreSlim Gate { get; } = new(1, 1);
}
