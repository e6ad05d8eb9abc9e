namespace Cc.Ttrpc.Framing;

/// <summary>
/// The bound on what one connection holds of its peer's bytes beyond the frame being read: request messages whose
/// handlers have not finished and stream messages queued for a reader that has not taken them. Once
/// <see cref="Limit"/> is reached the receive loop reads nothing more from the transport until handlers and readers
/// give bytes back, so a peer that sends faster than its calls are served is slowed down by the transport's own
/// buffers instead of growing our memory. Go's ttrpc blocks its receive loop in the same way when a stream's
/// one-message queue is full. The limit is two largest frames: one more frame is always accepted when below it, so a
/// handler that waits for one later request of any size still gets it.
/// </summary>
internal sealed class ReceiveBudget
{
    public const long Limit = 2L * FrameLimits.MessageLengthMax;

    private readonly Lock _lock = new();
    private long _held;                   // bytes taken and not yet released
    private TaskCompletionSource? _room;  // guarded by _lock: completed when _held drops below Limit

    public long Held => Volatile.Read(ref _held);

    public bool IsExhausted => Held >= Limit;

    public void Take(long bytes) => Interlocked.Add(ref _held, bytes);

    public void Release(long bytes)
    {
        if (Interlocked.Add(ref _held, -bytes) < Limit && Volatile.Read(ref _room) is not null)
        {
            lock (_lock)
            {
                if (_held < Limit)
                {
                    _room?.TrySetResult();
                    _room = null;
                }
            }
        }
    }

    /// <summary>Completes once fewer than <see cref="Limit"/> bytes are held (at once when they already are).</summary>
    public async ValueTask WaitForRoomAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task room;
            lock (_lock)
            {
                if (Volatile.Read(ref _held) < Limit)
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
