using Microsoft.Extensions.Logging;

namespace Cc.Hypervisor.Qmp;

/// <summary>Source-generated log messages of the QMP client. Event ids 31xx.</summary>
internal static partial class QmpLog
{
    [LoggerMessage(3100, LogLevel.Debug, "QMP {Socket} connected to QEMU {Version}")]
    public static partial void Connected(ILogger logger, string socket, QmpVersion version);

    [LoggerMessage(3101, LogLevel.Debug, "QMP {Socket} closed: {Reason}")]
    public static partial void Closed(ILogger logger, string socket, string reason);

    [LoggerMessage(3102, LogLevel.Debug, "QMP {Socket} event {Event}")]
    public static partial void Event(ILogger logger, string socket, string @event);

    [LoggerMessage(3103, LogLevel.Warning, "QMP {Socket} reply for unknown id {Id} dropped (its caller gave up)")]
    public static partial void OrphanReply(ILogger logger, string socket, string id);

    [LoggerMessage(3104, LogLevel.Warning, "QMP {Socket} error without id: {Class}: {Description}")]
    public static partial void ErrorWithoutId(ILogger logger, string socket, string @class, string description);

    [LoggerMessage(3105, LogLevel.Debug, "QMP {Socket} execute {Command} id {Id}")]
    public static partial void Execute(ILogger logger, string socket, string command, long id);

}
