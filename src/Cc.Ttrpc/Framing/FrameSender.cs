using System.Buffers;
using System.Collections.Concurrent;
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
/// A frame may end with a tail: memory of the caller's that is written to the transport right after the part of the
/// frame in the pipe, without being copied into it (<see cref="TryAppendWithTail{TState}"/>).
/// </summary>
internal sealed class FrameSender
{
    internal const long HighWater = 8L << 20;

    /// <summary>A tail shorter than this is copied into the pipe with its frame: one write then carries it with its
    /// neighbours, which costs less than a separate write of a few KiB.</summary>
    internal const int TailAtLeast = 64 * 1024;

    private readonly Pipe _pipe;
    // Tails, in the order of their frames; each is written once the pipe has been sent up to its Position. Enqueued
    // under Gate before the flush that makes its frame's head visible to the send loop, so a head the loop reads
    // always has its tail queued. Dequeued by the send loop only.
    private readonly ConcurrentQueue<Tail> _tails = new();
    private long _appended;               // guarded by Gate: bytes appended to the pipe since the start
    private long _sent;                   // send loop only: pipe bytes written to the transport since the start

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
        _appended += total;
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

    /// <summary>
    /// Appends one frame whose data is <paramref name="headLength"/> bytes written by <paramref name="writeHead"/> and
    /// then <paramref name="tail"/>, which is not copied: the send loop writes it to the transport after the head and then
    /// calls <paramref name="written"/>. The memory behind <paramref name="tail"/> must not change until then. Returns
    /// false once the sender is completed.
    /// </summary>
    public bool TryAppendWithTail<TState>(uint streamId, MessageType type, FrameFlags flags, int headLength,
        TState state, SpanAction<byte, TState> writeHead, ReadOnlyMemory<byte> tail, Action? written = null)
    {
        lock (Gate)
        {
            if (_completed)
            {
                return false;
            }

            int head = FrameLimits.HeaderLength + headLength;
            var writer = _pipe.Writer;
            Span<byte> span = writer.GetSpan(head);
            FrameEncoder.WriteHeader(span, new FrameHeader((uint)(headLength + tail.Length), streamId, type, flags));
            writeHead(span.Slice(FrameLimits.HeaderLength, headLength), state);
            writer.Advance(head);
            _appended += head;
            // Before the flush: the send loop may run inline in it (SendLoopScheduler) and must find the tail queued.
            _tails.Enqueue(new Tail(_appended, tail, written));
            Interlocked.Add(ref _queued, head + tail.Length);
            var flush = writer.FlushAsync();
            if (!flush.IsCompletedSuccessfully)
            {
                throw new InvalidOperationException("ttrpc: outgoing pipe flush did not complete synchronously");
            }

            return true;
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
                long written = await WriteAsync(transport, buffer, cancellationToken).ConfigureAwait(false);
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

    // Writes what the pipe holds, each queued tail right after the head that precedes it; returns the bytes written.
    private async ValueTask<long> WriteAsync(Transport transport, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
    {
        long written = 0;
        // A tail's Position is past its head (a frame header at least), so it is due only once that head is in buffer.
        while (_tails.TryPeek(out var tail) && tail.Position <= _sent + buffer.Length)
        {
            var head = buffer.Slice(0, tail.Position - _sent);
            if (!head.IsEmpty)
            {
                await transport.WriteAsync(head, cancellationToken).ConfigureAwait(false);
            }

            await transport.WriteAsync(new ReadOnlySequence<byte>(tail.Bytes), cancellationToken).ConfigureAwait(false);
            _tails.TryDequeue(out _);
            tail.Written?.Invoke();
            buffer = buffer.Slice(head.Length);
            _sent += head.Length;
            written += head.Length + tail.Bytes.Length;
        }

        if (!buffer.IsEmpty)
        {
            await transport.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            _sent += buffer.Length;
            written += buffer.Length;
        }

        return written;
    }

    /// <summary>A frame's uncopied end: written once the pipe has been sent up to <see cref="Position"/>; then
    /// <see cref="Written"/> is told (the caller may reuse the memory).</summary>
    private readonly record struct Tail(long Position, ReadOnlyMemory<byte> Bytes, Action? Written);

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
