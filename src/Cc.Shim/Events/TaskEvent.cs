using Cc.Shim.Sandbox;

namespace Cc.Shim.Events;

/// <summary>
/// A task lifecycle event as the domain raises it. Events/EventMapping.cs turns each into containerd's message and
/// topic; the domain never sees protobuf.
/// </summary>
public abstract record TaskEvent(DateTimeOffset Timestamp);

public sealed record TaskCreated(DateTimeOffset Timestamp, string ContainerId, string Bundle, IReadOnlyList<RootfsMount> Rootfs,
    StdioSpec Stdio, uint Pid) : TaskEvent(Timestamp);

public sealed record TaskStarted(DateTimeOffset Timestamp, string ContainerId, uint Pid) : TaskEvent(Timestamp);

/// <summary>Any process exited; <see cref="Process"/> tells init from exec.</summary>
public sealed record TaskExited(DateTimeOffset Timestamp, ProcessKey Process, uint Pid, ExitStatus Exit) : TaskEvent(Timestamp);

public sealed record TaskDeleted(DateTimeOffset Timestamp, ProcessKey Process, uint Pid, ExitStatus Exit) : TaskEvent(Timestamp);

public sealed record ExecAdded(DateTimeOffset Timestamp, ProcessKey Process) : TaskEvent(Timestamp);

public sealed record ExecStarted(DateTimeOffset Timestamp, ProcessKey Process, uint Pid) : TaskEvent(Timestamp);

public sealed record TaskPaused(DateTimeOffset Timestamp, string ContainerId) : TaskEvent(Timestamp);

public sealed record TaskResumed(DateTimeOffset Timestamp, string ContainerId) : TaskEvent(Timestamp);

public sealed record TaskOom(DateTimeOffset Timestamp, string ContainerId) : TaskEvent(Timestamp);

/// <summary>
/// Where the domain hands events. Publish must not block and must keep order: the domain calls it at the moment of the
/// state transition, under the lock that orders transitions, so queue order is state order.
/// </summary>
public interface IEventPublisher
{
    void Publish(TaskEvent taskEvent);
}
