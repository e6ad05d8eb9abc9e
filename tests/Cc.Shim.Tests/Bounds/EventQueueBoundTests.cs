using Cc.Shim.Events;
using Cc.TestKit;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Shim.Tests.Bounds;

/// <summary>The event queue is bounded: a stuck publisher costs a fixed amount of memory and never reorders events.</summary>
public sealed class EventQueueBoundTests
{
    private static TaskEvent Oom(int n) => new TaskOom(DateTimeOffset.UnixEpoch, $"c{n}");

    [Fact]
    public async Task With_the_publisher_stuck_at_most_capacity_events_wait_and_the_rest_are_dropped_and_counted()
    {
        var sink = new StuckSink();
        await using var queue = new EventQueue(sink, null, TimeProvider.System, NullLogger<EventQueue>.Instance, capacity: 4);

        queue.Publish(Oom(0));
        await sink.FirstSendArrived.WithTimeout(); // event 0 is in flight; the queue itself is empty
        for (var i = 1; i <= 10_000; i++)
        {
            queue.Publish(Oom(i));
        }

        queue.Queued.ShouldBe(4);
        queue.Dropped.ShouldBe(10_000 - 4);
    }

    [Fact]
    public async Task A_full_queue_refuses_the_newest_event_and_sends_the_queued_ones_in_order()
    {
        var sink = new GatedSink();
        await using var queue = new EventQueue(sink, null, TimeProvider.System, NullLogger<EventQueue>.Instance, capacity: 3);

        queue.Publish(Oom(0));
        await sink.FirstSendArrived.WithTimeout();
        for (var i = 1; i <= 5; i++)
        {
            queue.Publish(Oom(i));
        }
        sink.Open();
        await queue.FlushAsync(CancellationToken.None).WithTimeout();

        sink.Sent.ShouldBe(["c0", "c1", "c2", "c3"]);
        queue.Dropped.ShouldBe(2);
    }

    [Fact]
    public async Task A_send_that_never_answers_is_abandoned_at_the_send_timeout_and_the_next_event_goes_out()
    {
        var time = new ManualTimeProvider();
        var sink = new FirstSendHangsSink();
        await using var queue = new EventQueue(sink, null, time, NullLogger<EventQueue>.Instance, retryUnit: TimeSpan.Zero);

        queue.Publish(Oom(0));
        queue.Publish(Oom(1));
        await sink.FirstSendArrived.WithTimeout();
        await Bounded.UntilAsync(() => time.ActiveTimers >= 2, "the attempt's bounds are armed");
        time.Advance(EventQueue.SendTimeout);
        await queue.FlushAsync(CancellationToken.None).WithTimeout();

        sink.FirstToken.IsCancellationRequested.ShouldBeTrue();
        sink.Sent.ShouldBe(["c0", "c1"]); // the retry of c0, then c1: order kept
    }

    // The queue's payloads carry bare type URLs (docs/shim.md), which Any.Unpack refuses: parse the value directly.
    private static string Id(Any payload) => Cc.Containerd.Protocol.Events.TaskOOM.Parser.ParseFrom(payload.Value).ContainerId;

    /// <summary>Accepts the first send and never completes it, as a wedged containerd.</summary>
    private sealed class StuckSink : IEventSink
    {
        private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task FirstSendArrived => _first.Task;

        public Task SendAsync(string topic, Any @event, DateTimeOffset timestamp, CancellationToken cancellationToken)
        {
            _first.TrySetResult();
            return Task.Delay(Timeout.Infinite, cancellationToken);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>Holds every send until <see cref="Open"/>, then records them.</summary>
    private sealed class GatedSink : IEventSink
    {
        private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<string> Sent { get; } = [];

        public Task FirstSendArrived => _first.Task;

        public void Open() => _open.TrySetResult();

        public async Task SendAsync(string topic, Any @event, DateTimeOffset timestamp, CancellationToken cancellationToken)
        {
            _first.TrySetResult();
            await _open.Task.WaitAsync(cancellationToken);
            Sent.Add(Id(@event));
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>Its first send ignores its token and never completes; later ones are recorded.</summary>
    private sealed class FirstSendHangsSink : IEventSink
    {
        private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _calls;

        public List<string> Sent { get; } = [];

        public CancellationToken FirstToken { get; private set; }

        public Task FirstSendArrived => _first.Task;

        public Task SendAsync(string topic, Any @event, DateTimeOffset timestamp, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _calls) == 1)
            {
                FirstToken = cancellationToken;
                _first.TrySetResult();
                return new TaskCompletionSource().Task;
            }
            Sent.Add(Id(@event));
            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
