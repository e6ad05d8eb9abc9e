using System.Runtime.InteropServices;
using System.Threading.Channels;
using Microsoft.Win32.SafeHandles;

namespace Cc.Agent.Processes;

// Moves one output stream of a process (a pipe read end or the pty master) into a bounded buffer
// that ReadAsync drains. The buffer is the back-pressure: with it full, the pump stops reading, the
// pipe fills, and the process blocks in write(2) until the host asks for more.
//
// Reached EOF (EndOfInput) means every byte the process wrote is in the buffer: WaitProcess waits
// for it so the host can read the whole output before it learns the exit.
internal sealed class OutputPump
{
    // One read(2): as large as what one ReadStdout may carry (ContainerManager.MaxReadBytes) and as the pipe
    // (ProcessIo grows it to this size), so that a process streaming output is emptied in one read per megabyte and a
    // host read takes that chunk as it is, without gathering it from smaller ones.
    public const int ReadSize = 1024 * 1024;
    // A read shorter than this is copied out and the read buffer kept (interactive output: lines, prompts); a longer one
    // hands its buffer over whole. Copying a few KiB costs less than a fresh megabyte; copying a megabyte costs a pass over
    // it, which under TCG is emulated guest work for every byte.
    internal const int CopyBelow = 64 * 1024;
    // Chunks buffered for the host. Two: one that the host's next read takes and one behind it, so the pump keeps reading
    // while a read is in flight. Bounds the guest's memory per stream with the pipe and the chunk in the pump's hand.
    private const int BufferedChunks = 2;
    private const int StackSize = 256 * 1024;

    private readonly Channel<ReadOnlyMemory<byte>> _chunks = Channel.CreateBounded<ReadOnlyMemory<byte>>(
        new BoundedChannelOptions(BufferedChunks) { SingleReader = true, SingleWriter = true });
    // One reader at a time, so that the partially consumed chunk (_rest) is not split between two.
    private readonly SemaphoreSlim _readLock = new(1, 1);
    private readonly TaskCompletionSource _endOfInput = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ReadOnlyMemory<byte> _rest;
    // True while _rest is a large chunk just taken from the channel and not cut yet: handed out whole, it may come back.
    private bool _restWhole;
    // Read buffers handed out whole (the only reference is the host's answer) and read buffers given back for the pump
    // to read into again (Return). Reusing them spares the guest a fresh megabyte per read: a new large array is new
    // pages for the GC to map, each a page fault and a cleared page, emulated under TCG. Guarded by _buffers.
    private readonly List<byte[]> _handedOut = new(BufferedChunks + 2);
    private readonly Stack<byte[]> _buffers = new(FreeBuffers);
    private const int FreeBuffers = 2;

    private OutputPump()
    {
    }

    public Task EndOfInput => _endOfInput.Task;

    // Chunks waiting for the host (at most BufferedChunks): what this stream holds besides the pipe and the chunk the
    // pump thread has in hand. The guest's memory per stream is therefore bounded by the pipe + (BufferedChunks + 1) × ReadSize.
    internal int Buffered => _chunks.Reader.Count;

    internal const int MaxBufferedChunks = BufferedChunks;

    // A stream that is already at its end (stderr of a terminal process).
    public static OutputPump Empty()
    {
        var pump = new OutputPump();
        pump._chunks.Writer.TryComplete();
        pump._endOfInput.TrySetResult();
        return pump;
    }

    // Starts pumping `source`; the pump owns it and closes it at EOF. A pty master reports the end
    // as EIO once the last slave fd is closed; that, like any read error, ends the stream.
    public static OutputPump Start(SafeFileHandle source)
    {
        var pump = new OutputPump();
        // A dedicated thread per stream: read(2) on a pipe blocks, and blocking pool threads would
        // starve the thread pool of a 1-vCPU guest (its minimum is the CPU count).
        var thread = new Thread(() => pump.Pump(source), StackSize) { IsBackground = true, Name = "cc-agent output" };
        thread.Start();
        return pump;
    }

    // Up to `maxBytes` bytes; waits until some are there, then takes what is buffered up to `maxBytes`; empty = end of
    // stream. A large chunk (a full read of a streaming process) goes alone and uncopied; small chunks (interactive output)
    // are gathered into one answer, so that one round trip carries them all (under TCG the guest's CPU, and so each call's
    // cost, is the scarce thing). Bytes come out in the order the process wrote them; a chunk taken in part leaves its rest
    // for the next read.
    public async ValueTask<ReadOnlyMemory<byte>> ReadAsync(int maxBytes, CancellationToken cancellationToken)
    {
        await _readLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_rest.IsEmpty)
            {
                if (!await _chunks.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    return ReadOnlyMemory<byte>.Empty;
                }

                _rest = await _chunks.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                _restWhole = _rest.Length >= CopyBelow;
            }

            if (_rest.Length >= maxBytes || _rest.Length >= CopyBelow || !_chunks.Reader.TryPeek(out var next)
                || next.Length >= CopyBelow)
            {
                return TakeFromRest(maxBytes);
            }

            return Gather(maxBytes);
        }
        catch (ChannelClosedException)
        {
            return ReadOnlyMemory<byte>.Empty;
        }
        finally
        {
            _readLock.Release();
        }
    }

    private ReadOnlyMemory<byte> TakeFromRest(int maxBytes)
    {
        var take = Math.Min(maxBytes, _rest.Length);
        var result = _rest[..take];
        _rest = _rest[take..];
        if (_restWhole && _rest.IsEmpty && MemoryMarshal.TryGetArray(result, out var whole) && whole.Array!.Length == ReadSize)
        {
            lock (_buffers)
            {
                _handedOut.Add(whole.Array);
            }
        }

        _restWhole = false;
        return result;
    }

    /// <summary>
    /// The host's answer that carried <paramref name="data"/> (a result of <see cref="ReadAsync"/>) has been written
    /// out, so nothing reads that memory again. A read buffer that was handed out whole is kept for the pump to read into
    /// again; anything else (a part of a buffer, a copy) is left to the GC. Optional: data never returned is simply freed.
    /// </summary>
    public void Return(ReadOnlyMemory<byte> data)
    {
        if (!MemoryMarshal.TryGetArray(data, out var segment) || segment.Offset != 0 || segment.Array!.Length != ReadSize)
        {
            return;
        }

        lock (_buffers)
        {
            // Only an array handed out whole, and only once: a second Return of it finds it gone.
            if (_handedOut.Remove(segment.Array) && _buffers.Count < FreeBuffers)
            {
                _buffers.Push(segment.Array);
            }
        }
    }

    private byte[] NextBuffer()
    {
        lock (_buffers)
        {
            if (_buffers.TryPop(out var buffer))
            {
                return buffer;
            }
        }

        // Uninitialized: read(2) overwrites what is handed on, and zeroing a megabyte per read is a pass over it.
        return GC.AllocateUninitializedArray<byte>(ReadSize);
    }

    // _rest and the small chunks buffered behind it (up to the first large one), up to maxBytes, copied into one new array
    // (the response wraps it; nothing writes it again). Only what is buffered now: never waits for more.
    private ReadOnlyMemory<byte> Gather(int maxBytes)
    {
        var total = _rest.Length;
        var parts = new List<ReadOnlyMemory<byte>>(BufferedChunks + 1) { _rest };
        while (total < maxBytes && _chunks.Reader.TryPeek(out var small) && small.Length < CopyBelow
            && _chunks.Reader.TryRead(out var chunk))
        {
            parts.Add(chunk);
            total += chunk.Length;
        }

        var result = new byte[Math.Min(total, maxBytes)];
        var offset = 0;
        _rest = ReadOnlyMemory<byte>.Empty;
        foreach (var part in parts)
        {
            var take = Math.Min(part.Length, result.Length - offset);
            part.Span[..take].CopyTo(result.AsSpan(offset));
            offset += take;
            if (take < part.Length)
            {
                _rest = part[take..]; // only the last part can be cut
            }
        }

        return result;
    }

    private void Pump(SafeFileHandle source)
    {
        try
        {
            // A pipe/pty is not seekable: FileStream reads it with plain blocking read(2) calls.
            using var stream = new FileStream(source, FileAccess.Read, bufferSize: 0);
            var buffer = NextBuffer();
            while (true)
            {
                int count;
                try
                {
                    count = stream.Read(buffer, 0, buffer.Length);
                }
                catch (IOException)
                {
                    count = 0;
                }

                if (count == 0)
                {
                    break;
                }

                // A short read (interactive output) is copied out so the read buffer is reused; a long
                // one is handed over whole and the next read gets another buffer: one given back (Return)
                // or a fresh one. Either way a chunk given to the channel is never written again until
                // the host's answer with it has been written out (ReadAsync's callers wrap it, no copy).
                ReadOnlyMemory<byte> chunk;
                if (count < CopyBelow)
                {
                    chunk = buffer.AsSpan(0, count).ToArray();
                }
                else
                {
                    chunk = buffer.AsMemory(0, count);
                    buffer = NextBuffer();
                }

                // Blocks this thread while the buffer is full: the back-pressure.
                var write = _chunks.Writer.WriteAsync(chunk, CancellationToken.None);
                if (!write.IsCompletedSuccessfully)
                {
                    write.AsTask().GetAwaiter().GetResult();
                }
            }
        }
        finally
        {
            _chunks.Writer.TryComplete();
            _endOfInput.TrySetResult();
        }
    }
}
