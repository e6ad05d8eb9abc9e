using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Events;

/// <summary>
/// The one ordered queue of events to containerd (protocol.md §3.5.2): a single consumer sends them strictly one after
/// another, so containerd sees them in the order the domain raised them. A failed send is retried on the same event
/// (never reordered) up to <see cref="MaxAttempts"/> times with a growing pause, then handed to the fallback sink
/// (the publish binary) if there is one, then dropped with an error log.
/// <para>Bounded (docs/reliability.md, "Bounded resources"): at most <see cref="Capacity"/> events wait, and each send
/// attempt is abandoned after <see cref="SendTimeout"/>, so a publisher that is stuck (containerd wedged, its socket
/// gone silent) holds a fixed amount of memory and delays later events by a bounded time. An event published into a
/// full queue is dropped (logged, counted in <see cref="Dropped"/>): the events already queued keep their order, and
/// the domain, which publishes under its lock, never blocks on containerd.</para>
/// </summary>
public sealed partial class EventQueue : IEventPublisher, IAsyncDisposable
{
    /// <summary>Matches the Go publisher: 5 attempts, 1 s × attempt between them.</summary>
    public const int MaxAttempts = 5;

    /// <summary>Default capacity, as the Go publisher's queue; past it a new event is dropped with an error log (order is kept).</summary>
    public const int DefaultCapacity = 2048;

    /// <summary>Bound of one send attempt, as the Go publisher's Forward (5 s).</summary>
    public static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(5);

    private readonly Channel<TaskEvent> _channel;
    private long _dropped;
    private readonly IEventSink _primary;
    private readonly IEventSink? _fallback;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _retryUnit;
    private readonly CancellationTokenSource _abort = new();
    private readonly Task _loop;

    public EventQueue(IEventSink primary, IEventSink? fallback, TimeProvider time, ILogger<EventQueue> logger,
        TimeSpan? retryUnit = null, int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _channel = Channel.CreateBounded<TaskEvent>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait, // with TryWrite: a full queue refuses the new event, never an old one
        });
        _primary = primary;
        _fallback = fallback;
        _time = time;
        _logger = logger;
        _retryUnit = retryUnit ?? TimeSpan.FromSeconds(1);
        _loop = Task.Run(RunAsync);
    }

    /// <summary>How many events may wait to be sent.</summary>
    public int Capacity { get; }

    /// <summary>Events waiting to be sent (the one being sent not included).</summary>
    public int Queued => _channel.Reader.Count;

    /// <summary>Events refused because the queue was full or closed.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Never blocks: the domain publishes under its lock.</summary>
    public void Publish(TaskEvent taskEvent)
    {
        if (!_channel.Writer.TryWrite(taskEvent))
        {
            Interlocked.Increment(ref _dropped);
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
        using var timeout = new CancellationTokenSource(SendTimeout, _time);
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(_abort.Token, timeout.Token);
        try
        {
            // WaitAsync too: a sink that ignores its token is abandoned at the bound all the same.
            await sink.SendAsync(topic, payload, taskEvent.Timestamp, attempt.Token)
                .WaitAsync(SendTimeout, _time, _abort.Token).ConfigureAwait(false);
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
