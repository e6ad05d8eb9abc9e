using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Events;

/// <summary>
/// The one ordered queue of events to containerd (protocol.md §3.5.2): a single consumer sends them strictly one after
/// another, so containerd sees them in the order the domain raised them. A failed send is retried on the same event
/// (never reordered) up to <see cref="MaxAttempts"/> times with a growing pause, then handed to the fallback sink
/// (the publish binary) if there is one, then dropped with an error log.
/// </summary>
public sealed partial class EventQueue : IEventPublisher, IAsyncDisposable
{
    /// <summary>Matches the Go publisher: 5 attempts, 1 s × attempt between them.</summary>
    public const int MaxAttempts = 5;

    /// <summary>Queue capacity, as the Go publisher's; past it a new event is dropped with an error log (order is kept).</summary>
    public const int Capacity = 2048;

    private readonly Channel<TaskEvent> _channel =
        Channel.CreateBounded<TaskEvent>(new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });
    private readonly IEventSink _primary;
    private readonly IEventSink? _fallback;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _retryUnit;
    private readonly CancellationTokenSource _abort = new();
    private readonly Task _loop;

    public EventQueue(IEventSink primary, IEventSink? fallback, TimeProvider time, ILogger<EventQueue> logger,
        TimeSpan? retryUnit = null)
    {
        _primary = primary;
        _fallback = fallback;
        _time = time;
        _logger = logger;
        _retryUnit = retryUnit ?? TimeSpan.FromSeconds(1);
        _loop = Task.Run(RunAsync);
    }

    public void Publish(TaskEvent taskEvent)
    {
        if (!_channel.Writer.TryWrite(taskEvent))
        {
            Log.Dropped(_logger, taskEvent.GetType().Name, "queue full or closed");
        }
    }

    /// <summary>Stops accepting events and waits until the queue is sent, bounded by the token.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        _channel.Writer.TryComplete();
        try
        {
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await _abort.CancelAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Writer.TryComplete();
        await _abort.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        await _primary.DisposeAsync().ConfigureAwait(false);
        if (_fallback is not null)
        {
            await _fallback.DisposeAsync().ConfigureAwait(false);
        }
        _abort.Dispose();
    }

    private async Task RunAsync()
    {
        await foreach (var taskEvent in _channel.Reader.ReadAllAsync(_abort.Token).ConfigureAwait(false))
        {
            var (topic, payload) = EventMapping.ToEnvelopeParts(taskEvent);
            if (await TrySendAsync(_primary, topic, payload, taskEvent).ConfigureAwait(false))
            {
                continue;
            }
            if (_fallback is not null && await TrySendOnceAsync(_fallback, topic, payload, taskEvent).ConfigureAwait(false))
            {
                continue;
            }
            Log.Dropped(_logger, topic, "every attempt failed");
        }
    }

    private async Task<bool> TrySendAsync(IEventSink sink, string topic, Google.Protobuf.WellKnownTypes.Any payload, TaskEvent taskEvent)
    {
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            if (await TrySendOnceAsync(sink, topic, payload, taskEvent).ConfigureAwait(false))
            {
                return true;
            }
            if (attempt < MaxAttempts)
            {
                await Task.Delay(_retryUnit * attempt, _time, _abort.Token).ConfigureAwait(false);
            }
        }
        return false;
    }

    private async Task<bool> TrySendOnceAsync(IEventSink sink, string topic, Google.Protobuf.WellKnownTypes.Any payload,
        TaskEvent taskEvent)
    {
        try
        {
            await sink.SendAsync(topic, payload, taskEvent.Timestamp, _abort.Token).ConfigureAwait(false);
            Log.Sent(_logger, topic);
            return true;
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            Log.SendFailed(_logger, e, topic);
            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 200, Level = LogLevel.Debug, Message = "Event {Topic} forwarded")]
        public static partial void Sent(ILogger logger, string topic);

        [LoggerMessage(EventId = 201, Level = LogLevel.Warning, Message = "Forwarding event {Topic} failed")]
        public static partial void SendFailed(ILogger logger, Exception e, string topic);

        [LoggerMessage(EventId = 202, Level = LogLevel.Error, Message = "Event {Topic} dropped: {Reason}")]
        public static partial void Dropped(ILogger logger, string topic, string reason);
    }
}
