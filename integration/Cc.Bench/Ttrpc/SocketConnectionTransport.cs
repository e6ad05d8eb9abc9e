using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Cc.Ttrpc.Framing;
using Cc.Ttrpc.Transports;
using Pipelines.Sockets.Unofficial;

namespace Cc.Bench.Ttrpc;

/// <summary>
/// A connection over a socket through Pipelines.Sockets.Unofficial's <see cref="SocketConnection"/>, the bench's second
/// transport (<c>--socket-connection</c>; docs/performance.md compares it with Cc.Ttrpc's stream transport, which is the
/// one the product ships). Kept here, not in Cc.Ttrpc, so the product's executables do not link the package; it plugs
/// in through <see cref="SocketTransportFactory"/> (<see cref="Create"/>). Its receive loop reads the socket straight
/// into a pipe that the frame decoder reads; its send loop sends a pipe's segments with one gathered send. The connection's own send
/// queue (FrameSender) stays in front of it, so frames are copied once more on the way out: the queue is what lets
/// a call's deadline fire while the peer does not read.
/// </summary>
public sealed class SocketConnectionTransport : Transport
{
    /// <summary>The factory for <see cref="Cc.Ttrpc.TtrpcServerOptions.SocketTransport"/> and the client's option.</summary>
    public static SocketTransportFactory Create { get; } = static socket => new SocketConnectionTransport(socket);

    /// <summary>
    /// The receive pipe pauses the socket loop only above one largest frame plus a segment: the decoder consumes a
    /// frame only once all of it is in the pipe, so a lower threshold would stall a large frame forever. This is the
    /// most a connection buffers of its peer's bytes.
    /// </summary>
    public const long ReceiveBufferMax = FrameLimits.HeaderLength + FrameLimits.MessageLengthMax + SegmentSize;

    private const int SegmentSize = 64 * 1024;

    /// <summary>
    /// The send pipe pauses its writer while it holds any byte, so a flush completes only once the socket loop has
    /// handed everything to the kernel, as a NetworkStream write does. The queue of frames is the connection's own
    /// (FrameSender, bounded there); and a graceful close, which disposes the socket right after the last write, then
    /// loses nothing still waiting in this pipe.
    /// </summary>
    private const long SendPauseThreshold = 1;

    // Inline schedulers: the receive loop hands bytes to the decoder on its own thread, and a flush of the send pipe
    // runs the socket send on the flushing thread, as the stream transport's loops do (no thread-pool hop per frame).
    private static readonly PipeOptions ReceiveOptions = new(
        pool: FrameMemoryPool.Instance, readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline,
        pauseWriterThreshold: ReceiveBufferMax, resumeWriterThreshold: ReceiveBufferMax / 2,
        minimumSegmentSize: SegmentSize, useSynchronizationContext: false);

    private static readonly PipeOptions SendOptions = new(
        pool: FrameMemoryPool.Instance, readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline,
        pauseWriterThreshold: SendPauseThreshold, resumeWriterThreshold: SendPauseThreshold,
        minimumSegmentSize: SegmentSize, useSynchronizationContext: false);

    private readonly SocketConnection _connection;

    public SocketConnectionTransport(Socket socket) =>
        _connection = SocketConnection.Create(socket, SendOptions, ReceiveOptions);

    public override PipeReader Input => _connection.Input;

    public override async ValueTask WriteAsync(ReadOnlySequence<byte> frames, CancellationToken cancellationToken)
    {
        PipeWriter output = _connection.Output;
        foreach (ReadOnlyMemory<byte> segment in frames)
        {
            output.Write(segment.Span);
        }

        FlushResult result = await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (result.IsCompleted)
        {
            throw new IOException($"ttrpc: the socket no longer sends ({_connection.ShutdownKind}, {_connection.SocketError})");
        }
    }

    /// <summary>
    /// Disposes the SocketConnection: the socket is shut down and closed, which ends its receive loop. Its send loop,
    /// parked on an empty pipe, is left to the GC with the rest: completing that pipe here could race a write of the
    /// connection's own send loop (pipe writers are single-threaded).
    /// </summary>
    public override void Close()
    {
        try
        {
            _connection.Dispose();
        }
        catch (Exception)
        {
            // Disposing a broken socket may throw; the connection's close reason is already recorded.
        }
    }
}
