using System.IO.Pipelines;

namespace Cc.TestKit;

/// <summary>
/// Two connected in-memory byte streams, like a socketpair: what one side writes the other reads.
/// Disposing a side completes its writer (the peer reads EOF) and its reader.
/// </summary>
public static class DuplexPipe
{
    public static (DuplexPipeStream Left, DuplexPipeStream Right) Create(long pauseWriterThreshold = 1 << 20)
    {
        var options = new PipeOptions(pauseWriterThreshold: pauseWriterThreshold, resumeWriterThreshold: pauseWriterThreshold / 2,
            useSynchronizationContext: false);
        var leftToRight = new Pipe(options);
        var rightToLeft = new Pipe(options);
        return (new DuplexPipeStream(rightToLeft.Reader, leftToRight.Writer),
                new DuplexPipeStream(leftToRight.Reader, rightToLeft.Writer));
    }
}

/// <summary>One end of a <see cref="DuplexPipe"/>. Reads and writes honour cancellation.</summary>
public sealed class DuplexPipeStream(PipeReader reader, PipeWriter writer) : Stream
{
    private readonly Stream _read = reader.AsStream();
    private readonly Stream _write = writer.AsStream();
    private int _disposed;

    /// <summary>Bytes written through this end so far (what the peer was sent).</summary>
    public long BytesWritten { get; private set; }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => _read.Read(buffer, offset, count);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _read.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _read.ReadAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count)
    {
        BytesWritten += count;
        _write.Write(buffer, offset, count);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        BytesWritten += buffer.Length;
        return _write.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => _write.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => _write.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Half-close: the peer reads end-of-file, while this end can still read what the peer sends.</summary>
    public void CompleteWrites() => writer.Complete();

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            writer.Complete();
            reader.Complete();
        }

        base.Dispose(disposing);
    }
}
