using Google.Protobuf;

namespace Cc.Containerd.Protocol.Events;

/// <summary>The exact topic strings of protocol.md §3.5.1, and the topic each event message travels under.</summary>
public static class EventTopics
{
    public const string TaskCreate = "/tasks/create";
    public const string TaskStart = "/tasks/start";
    public const string TaskExit = "/tasks/exit";
    public const string TaskDelete = "/tasks/delete";
    public const string TaskExecAdded = "/tasks/exec-added";
    public const string TaskExecStarted = "/tasks/exec-started";
    public const string TaskPaused = "/tasks/paused";
    public const string TaskResumed = "/tasks/resumed";
    public const string TaskCheckpointed = "/tasks/checkpointed";
    public const string TaskOom = "/tasks/oom";

    /// <summary>The topic of an event message; an unknown type is a programming error.</summary>
    public static string For(IMessage message) => message switch
    {
        Events.TaskCreate => TaskCreate,
        Events.TaskStart => TaskStart,
        Events.TaskExit => TaskExit,
        Events.TaskDelete => TaskDelete,
        Events.TaskExecAdded => TaskExecAdded,
        Events.TaskExecStarted => TaskExecStarted,
        Events.TaskPaused => TaskPaused,
        Events.TaskResumed => TaskResumed,
        Events.TaskCheckpointed => TaskCheckpointed,
        TaskOOM => TaskOom,
        _ => throw new ArgumentException($"{message.Descriptor.FullName} is not a task event", nameof(message)),
    };
}
