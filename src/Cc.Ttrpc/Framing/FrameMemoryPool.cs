using System.Buffers;

namespace Cc.Ttrpc.Framing;

/// <summary>
/// The memory behind a connection's pipes. A block up to <see cref="PooledMax"/> bytes (every segment of a
/// socket read, every small frame) is rented from <see cref="ArrayPool{T}.Shared"/> and given back when the pipe
/// is done with it. A larger block (a frame of more than 128 KiB appended in one piece) is a new array that is
/// simply dropped: the shared pool keeps what it is given, per thread and per core, for the life of the process,
/// so one burst of 1-4 MiB frames used to leave that many megabytes resident for good. A pipe only asks this pool
/// (and not the shared array pool) for blocks up to <see cref="MaxBufferSize"/>, hence its value. Public for transports
/// outside this library (<see cref="Transports.SocketTransportFactory"/>), whose pipes should hold memory the same way.
/// </summary>
public sealed class FrameMemoryPool : MemoryPool<byte>
{
    /// <summary>Largest block taken from the shared array pool; the pipes' segments (64 KiB) are below it.</summary>
    public const int PooledMax = 128 * 1024;

    public static FrameMemoryPool Instance { get; } = new();

    private FrameMemoryPool()
    {
    }

    public override int MaxBufferSize => int.MaxValue;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        int size = minBufferSize < 0 ? 4096 : minBufferSize;
        return size <= PooledMax ? new Pooled(ArrayPool<byte>.Shared.Rent(size)) : new Unpooled(GC.AllocateUninitializedArray<byte>(size));
    }

    protected override void Dispose(bool disposing)
    {
        // Shared by every connection; nothing is held here.
    }

    private sealed class Pooled(byte[] array) : IMemoryOwner<byte>
    {
        private byte[]? _array = array;

        public Memory<byte> Memory => _array ?? throw new ObjectDisposedException(nameof(FrameMemoryPool));

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _array, null) is { } array)
            {
                ArrayPool<byte>.Shared.Return(array);
            }
        }
    }

    /// <summary>A large frame's own array; once the pipe lets go of it the GC frees it.</summary>
    private sealed class Unpooled(byte[] array) : IMemoryOwner<byte>
    {
        private byte[]? _array = array;

        public Memory<byte> Memory => _array ?? throw new ObjectDisposedException(nameof(FrameMemoryPool));

        public void Dispose() => _array = null;
    }
}
