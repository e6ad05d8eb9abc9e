using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Events;

/// <summary>
/// For a daemon started without TTRPC_ADDRESS (by hand, not by containerd): there is nobody to forward to, so each
/// event is written to the log instead — visibly, at Information — and counts as delivered.
/// </summary>
public sealed partial class LogOnlyEventSink(ILogger<LogOnlyEventSink> logger) : IEventSink
{
    public Task SendAsync(string topic, Any @event, DateTimeOffset timestamp, CancellationToken cancellationToken)
    {
        Log.NotForwarded(logger, topic, @event.TypeUrl);
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(EventId = 210, Level = LogLevel.Information,
            Message = "Event {Topic} ({TypeUrl}) not forwarded: TTRPC_ADDRESS is not set")]
        public static partial void NotForwarded(ILogger logger, string topic, string typeUrl);
    }
}
