using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;

namespace Cc.Ttrpc.Transports;

/// <summary>
/// The bytes under one connection: frames are parsed from <see cref="Input"/> and written with
/// <see cref="WriteAsync"/>. <see cref="Close"/> is the abortive end of both directions. Public so that a socket
/// transport can live outside this library (<see cref="SocketTransportFactory"/>: the benchmark's SocketConnection one).
/// </summary>
public abstract class Transport
{
    /// <summary>What the peer sent. Its buffer holds at most one incomplete frame plus one read (the bound on
    /// what a connection keeps of the peer's bytes): the frame decoder consumes every whole frame at once.</summary>
    public abstract PipeReader Input { get; }

    /// <summary>Writes queued frames and pushes them to the peer; one writer at a time (the send loop).</summary>
    public abstract ValueTask WriteAsync(ReadOnlySequence<byte> frames, CancellationToken cancellationToken);

    /// <summary>Ends a pending read and write and releases the stream or socket. Idempotent; never throws.</summary>
    public abstract void Close();
}

/// <summary>
/// Makes the transport of a connected socket (unix, abstract or vsock) and takes ownership of the socket. Without one
/// (the default), a connection reads a <see cref="NetworkStream"/> through a StreamPipeReader (64 KiB segments) and
/// its send loop writes frames to it. The benchmark passes another (Pipelines.Sockets.Unofficial's SocketConnection,
/// docs/performance.md) to compare; the product ships only the default, so that package is not linked into it.
/// </summary>
public delegate Transport SocketTransportFactory(Socket socket);

/// <summary>The transport of a connected socket: the factory's, else the stream transport.</summary>
internal static class SocketTransports
{
    /// <summary>Takes ownership of <paramref name="socket"/>.</summary>
    public static Transport Create(Socket socket, SocketTransportFactory? factory) =>
        factory?.Invoke(socket) ?? new StreamTransport(new NetworkStream(socket, ownsSocket: true));
}
