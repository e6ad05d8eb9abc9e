namespace Cc.Shim.Sandbox;

/// <summary>
/// How long the guest may take for each kind of agent call when containerd sets no earlier deadline (configuration
/// <c>[agent] *_timeout_seconds</c>). Each call sends its deadline as ttrpc <c>timeout_nano</c>, so the agent cancels its
/// work when the shim stops waiting, and fails locally with DeadlineExceeded if no answer came: a hung guest cannot hang
/// a Task API call. Long-polls (WaitProcess, ReadStdout/ReadStderr, GetOomEvent) carry none: they end when their event
/// comes or when the VM leaves Ready, and a silent agent fails the VM through its health check.
/// </summary>
public sealed record AgentDeadlines
{
    /// <summary>CreateContainer: crun create in the guest, after the rootfs is shared.</summary>
    public TimeSpan Create { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>StartContainer and ExecProcess (which creates and starts an exec).</summary>
    public TimeSpan Start { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>SignalProcess (Kill, and the shim's own kills of execs).</summary>
    public TimeSpan Kill { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>RemoveContainer and DeleteProcess (Delete).</summary>
    public TimeSpan Delete { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Everything else a Task API call asks: Pause, Resume, Update, Stats, Pids, ResizePty, stdin writes and close.</summary>
    public TimeSpan Other { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>CreateSandbox, the launch's announcement of the pod to a booted guest (not configurable).</summary>
    public TimeSpan SandboxSetup { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// DestroySandbox, the guest's orderly end before QEMU is stopped (not configurable): short, since QEMU's stop
    /// follows either way and the answer only makes it gentler.
    /// </summary>
    public TimeSpan SandboxStop { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>SetTime of the clock sync (not configurable; <see cref="GuestClockSync.CallTimeout"/>): a late tick is abandoned.</summary>
    public TimeSpan Clock { get; init; } = GuestClockSync.CallTimeout;

    /// <summary>
    /// OnlineCpus after a vCPU hot-plug (not configurable): the guest's own wait for the plugged CPUs
    /// (<see cref="AgentGuest.OnlineCpusGuestWait"/>) plus 5 s for its answer.
    /// </summary>
    public TimeSpan Hotplug { get; init; } = AgentGuest.OnlineCpusGuestWait + TimeSpan.FromSeconds(5);

    public static AgentDeadlines Default { get; } = new();

    /// <summary>The deadline a call of <paramref name="kind"/> may take; null for a long-poll, which has none.</summary>
    public TimeSpan? For(AgentCallKind kind) => kind switch
    {
        AgentCallKind.Create => Create,
        AgentCallKind.Start => Start,
        AgentCallKind.Kill => Kill,
        AgentCallKind.Delete => Delete,
        AgentCallKind.Other => Other,
        AgentCallKind.SandboxSetup => SandboxSetup,
        AgentCallKind.SandboxStop => SandboxStop,
        AgentCallKind.Clock => Clock,
        AgentCallKind.Hotplug => Hotplug,
        AgentCallKind.LongPoll => null,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}

/// <summary>
/// What an agent call is, for its deadline (<see cref="AgentDeadlines"/>): a call names its kind at the call site, so a
/// new rpc needs no entry anywhere else.
/// </summary>
public enum AgentCallKind
{
    /// <summary>CreateContainer.</summary>
    Create,

    /// <summary>StartContainer, ExecProcess.</summary>
    Start,

    /// <summary>SignalProcess.</summary>
    Kill,

    /// <summary>RemoveContainer, DeleteProcess.</summary>
    Delete,

    /// <summary>Anything else a Task API call waits for.</summary>
    Other,

    /// <summary>Waits for an event (WaitProcess, ReadStdout/ReadStderr, GetOomEvent): no deadline on the wire.</summary>
    LongPoll,

    /// <summary>CreateSandbox (the VM's launch).</summary>
    SandboxSetup,

    /// <summary>DestroySandbox (the VM's stop).</summary>
    SandboxStop,

    /// <summary>SetTime (the clock sync).</summary>
    Clock,

    /// <summary>OnlineCpus (a resize).</summary>
    Hotplug,
}

/// <summary>
/// The deadline of the Task API call being served (containerd's <c>timeout_nano</c>), for the agent calls made on its
/// behalf: an agent call gets the earlier of it and its own kind's deadline. It flows with the call's async context.
/// Work that outlives the call (exit watches, stdio pumps, the dead-VM clean-up) is started after
/// <see cref="Detach"/>, so a deadline that has passed never reaches their calls.
/// </summary>
public static class CallerDeadline
{
    private static readonly AsyncLocal<DateTimeOffset?> s_current = new();

    public static DateTimeOffset? Current => s_current.Value;

    /// <summary>Sets the deadline for the rest of the current async flow (and what it starts); null clears it.</summary>
    public static void Set(DateTimeOffset? deadline) => s_current.Value = deadline;

    /// <summary>Clears it for the rest of the current async flow: call before starting work that outlives the call.</summary>
    public static void Detach() => s_current.Value = null;

    /// <summary>The timeout to send: <paramref name="kind"/>'s, or less if the caller's deadline is earlier.</summary>
    public static TimeSpan Effective(TimeSpan kind, TimeProvider time)
    {
        if (Current is not { } deadline)
        {
            return kind;
        }
        var left = deadline - time.GetUtcNow();
        return left < kind ? (left > TimeSpan.Zero ? left : TimeSpan.Zero) : kind;
    }
}
