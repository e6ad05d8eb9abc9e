using Microsoft.Extensions.Logging;

namespace Cc.Ttrpc;

/// <summary>Source-generated log messages of the ttrpc stack. Event ids are stable: 1xx connection, 2xx server, 3xx client.</summary>
internal static partial class Log
{
    [LoggerMessage(100, LogLevel.Debug, "ttrpc connection {Connection} closed: {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, string connection, string reason);

    [LoggerMessage(101, LogLevel.Warning, "ttrpc connection {Connection} failed")]
    public static partial void ConnectionFailed(ILogger logger, string connection, Exception reason);

    [LoggerMessage(102, LogLevel.Debug, "ttrpc connection {Connection} ignored a frame of unknown type {Type} on stream {StreamId}")]
    public static partial void UnknownFrameType(ILogger logger, string connection, byte type, uint streamId);

    [LoggerMessage(103, LogLevel.Warning, "ttrpc connection {Connection} rejected stream {StreamId}: {Code} {Message}")]
    public static partial void StreamRejected(ILogger logger, string connection, uint streamId, StatusCode code, string message);

    [LoggerMessage(104, LogLevel.Warning, "ttrpc connection {Connection}: the transport read did not stop within {Grace} after close; leaving it behind")]
    public static partial void ReceiveLoopStuck(ILogger logger, string connection, TimeSpan grace);

    [LoggerMessage(105, LogLevel.Debug, "ttrpc connection {Connection} stops reading: its calls hold {Held} bytes of the peer's messages (bound {Limit})")]
    public static partial void ReceivePaused(ILogger logger, string connection, long held, long limit);

    [LoggerMessage(200, LogLevel.Information, "ttrpc server listening on {Address}")]
    public static partial void Listening(ILogger logger, string address);

    [LoggerMessage(201, LogLevel.Warning, "ttrpc server dropped a connection from pid {Pid} uid {Uid} gid {Gid}: credentials differ from ours")]
    public static partial void PeerRejected(ILogger logger, int pid, uint uid, uint gid);

    [LoggerMessage(202, LogLevel.Error, "ttrpc handler {Service}/{Method} failed on stream {StreamId}")]
    public static partial void HandlerFailed(ILogger logger, string service, string method, uint streamId, Exception exception);

    [LoggerMessage(203, LogLevel.Information, "ttrpc handler {Service}/{Method} on stream {StreamId} ended by {Code}")]
    public static partial void HandlerCancelled(ILogger logger, string service, string method, uint streamId, StatusCode code);

    [LoggerMessage(204, LogLevel.Error, "ttrpc server accept loop on {Address} failed")]
    public static partial void AcceptFailed(ILogger logger, string address, Exception exception);

    [LoggerMessage(205, LogLevel.Warning, "ttrpc server shutdown deadline passed; aborting {Count} connections")]
    public static partial void ShutdownAborted(ILogger logger, int count);

    [LoggerMessage(206, LogLevel.Warning, "ttrpc response on stream {StreamId} too large ({Length} bytes); sent ResourceExhausted instead")]
    public static partial void ResponseTooLarge(ILogger logger, uint streamId, long length);

    [LoggerMessage(207, LogLevel.Debug, "ttrpc server ignored data on stream {StreamId}, which does not accept data")]
    public static partial void DataIgnored(ILogger logger, uint streamId);

    [LoggerMessage(208, LogLevel.Information,
        "ttrpc server on {Connection}: a new client session began (stream id {StreamId} after {LastStreamId}; {Abandoned} calls of the old session abandoned, their answers not sent)")]
    public static partial void SessionRestarted(ILogger logger, string connection, uint streamId, uint lastStreamId, int abandoned);

    [LoggerMessage(300, LogLevel.Information, "ttrpc client received a {Type} frame on inactive stream {StreamId} (the call gave up or never existed); dropped")]
    public static partial void InactiveStream(ILogger logger, Framing.MessageType type, uint streamId);
}
