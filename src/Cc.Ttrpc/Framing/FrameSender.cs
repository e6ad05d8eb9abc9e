using System.Buffers;
using System.IO.Pipelines;
using Cc.Ttrpc.Transports;

namespace Cc.Ttrpc.Framing;

/// <summary>
/// The outgoing half of a connection. Callers append whole frames to an in-memory pipe under
/// <see cref="Gate"/>, which never blocks on the peer; one send loop copies the pipe to the transport,
/// so frames queued while a write is in progress go out together and are flushed once.
/// Because callers never wait on the socket, a call's cancellation or deadline completes even when the
/// peer has stopped reading (the Go client can hang there). Memory is bounded by
/// <see cref="WaitForRoomAsync"/>: callers wait, cancellably, while more than <see cref="HighWater"/>
/// bytes are queued.
/// </summary>
internal sealed class FrameSender
{
    internal const long HighWater = 8L << 20;

    private readonly Pipe _pipe;

    private long _queued;                 // bytes appended and not yet written to the transport
    private int _activeCalls;             // calls the owner has in flight on this connection (a batching hint)
    private bool _completed;              // guarded by Gate: no more frames are accepted
    private TaskCompletionSource? _room;  // guarded by Gate: completed when _queued drops below HighWater

    public FrameSender()
    {
        _pipe = new Pipe(new PipeOptions(
            pool: FrameMemoryPool.Instance, // a large frame gets its own array, not one the shared pool keeps forever
            pauseWriterThreshold: 0, // appends must never block: backpressure is WaitForRoomAsync's job
            resumeWriterThreshold: 0,
            minimumSegmentSize: 64 * 1024,
            readerScheduler: new SendLoopScheduler(this),
            writerScheduler: PipeScheduler.Inline,
            useSynchronizationContext: false));
    }

    /// <summary>The owner has started a call on this connection (client: a Request is about to be queued;
    /// server: a Request was dispatched). Pair with <see cref="CallEnded"/>.</summary>
    public void CallStarted() => Interlocked.Increment(ref _activeCalls);

    public void CallEnded() => Interlocked.Decrement(ref _activeCalls);

    /// <summary>Serializes appends. The client also allocates stream ids under it, so ids on the wire increase.</summary>
    public Lock Gate { get; } = new();

    public ValueTask WaitForRoomAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _queued) < HighWater)
        {
            return ValueTask.CompletedTask;
        }

        return SlowAsync(cancellationToken);

        async ValueTask SlowAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                Task room;
                lock (Gate)
                {
                    if (_completed || Volatile.Read(ref _queued) < HighWater)
                    {
                        return;
                    }

                    _room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    room = _room.Task;
                }

                await room.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Appends one frame. The caller must hold <see cref="Gate"/>. Returns false once the sender is completed.</summary>
    public bool TryAppendLocked<TState>(uint streamId, MessageType type, FrameFlags flags, int length,
        TState state, SpanAction<byte, TState>? writeBody)
    {
        if (_completed)
        {
            return false;
        }

        int total = FrameLimits.HeaderLength + length;
        var writer = _pipe.Writer;
        Span<byte> span = writer.GetSpan(total);
        FrameEncoder.WriteHeader(span, new FrameHeader((uint)length, streamId, type, flags));
        if (length > 0)
        {
            writeBody!(span.Slice(FrameLimits.HeaderLength, length), state);
        }

        writer.Advance(total);
        Interlocked.Add(ref _queued, total);

        // With pauseWriterThreshold 0 this completes synchronously; it commits the frame and wakes the loop.
        var flush = writer.FlushAsync();
        if (!flush.IsCompletedSuccessfully)
        {
            throw new InvalidOperationException("ttrpc: outgoing pipe flush did not complete synchronously");
        }

        return true;
    }

    public bool TryAppend<TState>(uint streamId, MessageType type, FrameFlags flags, int length,
        TState state, SpanAction<byte, TState>? writeBody)
    {
        lock (Gate)
        {
            return TryAppendLocked(streamId, type, flags, length, state, writeBody);
        }
    }

    /// <summary>No more frames: the send loop writes what is queued and then ends.</summary>
    public void Complete()
    {
        lock (Gate)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            _pipe.Writer.Complete();
            _room?.TrySetResult();
        }
    }

    /// <summary>Copies queued frames to <paramref name="transport"/> until <see cref="Complete"/> and the queue is empty.</summary>
    public async Task RunAsync(Transport transport, CancellationToken cancellationToken)
    {
        var reader = _pipe.Reader;
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    await transport.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
                }

                long written = buffer.Length;
                reader.AdvanceTo(buffer.End);
                if (Interlocked.Add(ref _queued, -written) < HighWater && _room is not null)
                {
                    lock (Gate)
                    {
                        _room?.TrySetResult();
                        _room = null;
                    }
                }

                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        finally
        {
            Complete();
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Where the idle send loop wakes up when a frame is appended. With at most one call in flight there is
    /// nothing to batch with, so the loop runs inline in the appender (under <see cref="Gate"/>): the frame
    /// goes out in the appender's own non-blocking send instead of after a thread-pool hop, which was the
    /// bulk of a lone caller's round trip. The appender still never waits on the peer: a send that cannot
    /// complete at once suspends the loop, which resumes on the thread pool. With more calls in flight the
    /// loop runs on the thread pool, so frames appended while it is being scheduled go out in one write
    /// (measured: about half the CPU per call of writing inline under concurrency).
    /// </summary>
    private sealed class SendLoopScheduler(FrameSender sender) : PipeScheduler
    {
        public override void Schedule(Action<object?> action, object? state)
        {
            if (Volatile.Read(ref sender._activeCalls) <= 1)
            {
                action(state);
                return;
            }

            System.Threading.ThreadPool.UnsafeQueueUserWorkItem(action, state, preferLocal: false);
        }
    }
}
