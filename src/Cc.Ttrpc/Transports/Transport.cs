using System.Buffers;
using System.IO.Pipelines;

namespace Cc.Ttrpc.Transports;

/// <summary>
/// The bytes under one connection: frames are parsed from <see cref="Input"/> and written with
/// <see cref="WriteAsync"/>. <see cref="Close"/> is the abortive end of both directions.
/// </summary>
internal abstract class Transport
{
    /// <summary>What the peer sent. Its buffer holds at most one incomplete frame plus one read (the bound on
    /// what a connection keeps of the peer's bytes): the frame decoder consumes every whole frame at once.</summary>
    public abstract PipeReader Input { get; }

    /// <summary>Writes queued frames and pushes them to the peer; one writer at a time (the send loop).</summary>
    public abstract ValueTask WriteAsync(ReadOnlySequence<byte> frames, CancellationToken cancellationToken);

    /// <summary>Ends a pending read and write and releases the stream or socket. Idempotent; never throws.</summary>
    public abstract void Close();
}

/// <summary>How a ttrpc connection over a socket (unix, abstract or vsock) moves its bytes.</summary>
public enum SocketTransportKind
{
    /// <summary>
    /// The default: a <see cref="System.Net.Sockets.NetworkStream"/> read through a StreamPipeReader (64 KiB segments),
    /// frames written to it by the connection's send loop.
    /// </summary>
    Stream = 0,

    /// <summary>
    /// Pipelines.Sockets.Unofficial's <c>SocketConnection</c>: its own receive loop fills a pipe, its own send loop
    /// empties another with gathered writes. Measured against <see cref="Stream"/> in docs/performance.md.
    /// </summary>
    SocketConnection = 1,
}

/// <summary>The transport of a connected socket, by kind.</summary>
internal static class SocketTransports
{
    /// <summary>Takes ownership of <paramref name="socket"/>.</summary>
    public static Transport Create(System.Net.Sockets.Socket socket, SocketTransportKind kind) => kind switch
    {
        SocketTransportKind.SocketConnection => new SocketConnectionTransport(socket),
        _ => new StreamTransport(new System.Net.Sockets.NetworkStream(socket, ownsSocket: true)),
    };
}
