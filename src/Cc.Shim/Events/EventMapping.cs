using Cc.Containerd.Protocol;
using Cc.Containerd.Protocol.Types;
using Cc.Shim.Sandbox;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Proto = Cc.Containerd.Protocol.Events;

namespace Cc.Shim.Events;

/// <summary>Domain events → containerd's event messages (protocol.md §3.5.1).</summary>
public static class EventMapping
{
    public static IMessage ToMessage(TaskEvent taskEvent) => taskEvent switch
    {
        TaskCreated e => new Proto.TaskCreate
        {
            ContainerId = e.ContainerId,
            Bundle = e.Bundle,
            Rootfs = { e.Rootfs.Select(ToMount) },
            Io = new Proto.TaskIO { Stdin = e.Stdio.Stdin, Stdout = e.Stdio.Stdout, Stderr = e.Stdio.Stderr, Terminal = e.Stdio.Terminal },
            Pid = e.Pid,
        },
        TaskStarted e => new Proto.TaskStart { ContainerId = e.ContainerId, Pid = e.Pid },
        // TaskExit.id is the exec id, or the container id for the init process.
        TaskExited e => new Proto.TaskExit
        {
            ContainerId = e.Process.ContainerId,
            Id = e.Process.DisplayId,
            Pid = e.Pid,
            ExitStatus = e.Exit.Code,
            ExitedAt = Timestamp.FromDateTimeOffset(e.Exit.ExitedAt),
        },
        // TaskDelete.id is empty for the init process.
        TaskDeleted e => new Proto.TaskDelete
        {
            ContainerId = e.Process.ContainerId,
            Id = e.Process.ExecId,
            Pid = e.Pid,
            ExitStatus = e.Exit.Code,
            ExitedAt = Timestamp.FromDateTimeOffset(e.Exit.ExitedAt),
        },
        ExecAdded e => new Proto.TaskExecAdded { ContainerId = e.Process.ContainerId, ExecId = e.Process.ExecId },
        ExecStarted e => new Proto.TaskExecStarted { ContainerId = e.Process.ContainerId, ExecId = e.Process.ExecId, Pid = e.Pid },
        TaskPaused e => new Proto.TaskPaused { ContainerId = e.ContainerId },
        TaskResumed e => new Proto.TaskResumed { ContainerId = e.ContainerId },
        TaskOom e => new Proto.TaskOOM { ContainerId = e.ContainerId },
        _ => throw new ArgumentException($"unmapped event {taskEvent.GetType().Name}", nameof(taskEvent)),
    };

    /// <summary>The topic and bare-URL Any of an event, ready for an Envelope.</summary>
    public static (string Topic, Any Event) ToEnvelopeParts(TaskEvent taskEvent)
    {
        var message = ToMessage(taskEvent);
        return (Proto.EventTopics.For(message), TypeUrls.Pack(message));
    }

    private static Mount ToMount(RootfsMount mount) =>
        new() { Type = mount.Type, Source = mount.Source, Options = { mount.Options } };
}
