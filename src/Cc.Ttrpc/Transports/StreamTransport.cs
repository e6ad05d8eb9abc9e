using System.Buffers;
using System.IO.Pipelines;
using Cc.Ttrpc.Framing;

namespace Cc.Ttrpc.Transports;

/// <summary>
/// A connection over any duplex <see cref="Stream"/>: a socket's NetworkStream, a virtio-serial port's FileStream,
/// an in-memory pipe. Reads go through a StreamPipeReader, which reads only when the decoder asks for more.
/// </summary>
internal sealed class StreamTransport : Transport
{
    private readonly Stream _stream;

    public StreamTransport(Stream stream)
    {
        _stream = stream;
        Input = PipeReader.Create(stream, new StreamPipeReaderOptions(
            pool: FrameMemoryPool.Instance, bufferSize: 64 * 1024, minimumReadSize: 16 * 1024, leaveOpen: true));
    }

    public override PipeReader Input { get; }

    public override async ValueTask WriteAsync(ReadOnlySequence<byte> frames, CancellationToken cancellationToken)
    {
        foreach (ReadOnlyMemory<byte> segment in frames)
        {
            await _stream.WriteAsync(segment, cancellationToken).ConfigureAwait(false);
        }

        await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public override void Close()
    {
        try
        {
            _stream.Dispose();
        }
        catch (Exception)
        {
            // Disposing a broken transport may throw; the connection's close reason is already recorded.
        }
    }
}
