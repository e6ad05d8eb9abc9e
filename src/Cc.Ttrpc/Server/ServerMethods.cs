using System.Buffers;
using System.Runtime.CompilerServices;
using Google.Protobuf;

namespace Cc.Ttrpc.Server;

/// <summary>The four call shapes of ttrpc v1.2 (PROTOCOL.md of v1.2.4).</summary>
internal enum MethodKind
{
    Unary,
    ServerStreaming,
    ClientStreaming,
    DuplexStreaming,
}

/// <summary>
/// A typed handler behind a method name. <see cref="InvokeAsync"/> returns the single response message of
/// unary and client-streaming methods, and null for methods whose responses travel as Data frames.
/// </summary>
internal abstract class ServerMethod
{
    public abstract MethodKind Kind { get; }

    /// <summary>Whether the client sends Data frames after the Request (RemoteOpen).</summary>
    public bool AcceptsData => Kind is MethodKind.ClientStreaming or MethodKind.DuplexStreaming;

    /// <summary>Whether the server answers with Data frames ended by RemoteClosed instead of a Response.</summary>
    public bool SendsData => Kind is MethodKind.ServerStreaming or MethodKind.DuplexStreaming;

    public abstract ValueTask<IMessage?> InvokeAsync(ServerCall call);

    /// <summary>
    /// Parses the request carried inside the Request frame, on the receive loop while the frame's bytes are
    /// still in the pipe (no intermediate copy). Null for methods whose requests arrive as Data frames.
    /// </summary>
    public virtual IMessage? ParseRequest(in ReadOnlySequence<byte> payload) => null;

    /// <summary>A handler that returns null has no response to send; the Go server reports the same text.</summary>
    internal static IMessage NotNull(IMessage? response) =>
        response ?? throw new TtrpcException(StatusCode.Unknown, "ttrpc: marshal called with nil");

    internal static T Parse<T>(MessageParser<T> parser, ByteString payload)
        where T : IMessage<T>
    {
        try
        {
            return parser.ParseFrom(payload);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw UnmarshalError(ex);
        }
    }

    /// <summary>Parses a message straight from a frame's segments (protobuf reads across their boundaries).</summary>
    internal static T Parse<T>(MessageParser<T> parser, in ReadOnlySequence<byte> payload)
        where T : IMessage<T>
    {
        try
        {
            return parser.ParseFrom(payload);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw UnmarshalError(ex);
        }
    }

    // services.go wraps the codec error the same way.
    private static TtrpcException UnmarshalError(InvalidProtocolBufferException ex) =>
        new(StatusCode.Internal, $"ttrpc: error unmarshalling payload: {ex.Message}", ex);
}

internal sealed class UnaryMethod<TRequest, TResponse>(
    MessageParser<TRequest> parser, Func<TRequest, ServerCallContext, ValueTask<TResponse>> handler) : ServerMethod
    where TRequest : IMessage<TRequest>
    where TResponse : IMessage<TResponse>
{
    public override MethodKind Kind => MethodKind.Unary;

    public override IMessage? ParseRequest(in ReadOnlySequence<byte> payload) => Parse(parser, payload);

    public override async ValueTask<IMessage?> InvokeAsync(ServerCall call) =>
        NotNull(await handler((TRequest)call.Request!, call.Context).ConfigureAwait(false));
}

internal sealed class ServerStreamingMethod<TRequest, TResponse>(
    MessageParser<TRequest> parser, Func<TRequest, IServerStreamWriter<TResponse>, ServerCallContext, Task> handler) : ServerMethod
    where TRequest : IMessage<TRequest>
    where TResponse : IMessage<TResponse>
{
    public override MethodKind Kind => MethodKind.ServerStreaming;

    public override IMessage? ParseRequest(in ReadOnlySequence<byte> payload) => Parse(parser, payload);

    public override async ValueTask<IMessage?> InvokeAsync(ServerCall call)
    {
        await handler((TRequest)call.Request!, new ServerStreamWriter<TResponse>(call), call.Context).ConfigureAwait(false);
        return null;
    }
}

internal sealed class ClientStreamingMethod<TRequest, TResponse>(
    MessageParser<TRequest> parser, Func<IAsyncStreamReader<TRequest>, ServerCallContext, ValueTask<TResponse>> handler) : ServerMethod
    where TRequest : IMessage<TRequest>
    where TResponse : IMessage<TResponse>
{
    public override MethodKind Kind => MethodKind.ClientStreaming;

    public override async ValueTask<IMessage?> InvokeAsync(ServerCall call) =>
        NotNull(await handler(new ServerStreamReader<TRequest>(call.Incoming!, parser), call.Context).ConfigureAwait(false));
}

internal sealed class DuplexStreamingMethod<TRequest, TResponse>(
    MessageParser<TRequest> parser, Func<IAsyncStreamReader<TRequest>, IServerStreamWriter<TResponse>, ServerCallContext, Task> handler) : ServerMethod
    where TRequest : IMessage<TRequest>
    where TResponse : IMessage<TResponse>
{
    public override MethodKind Kind => MethodKind.DuplexStreaming;

    public override async ValueTask<IMessage?> InvokeAsync(ServerCall call)
    {
        await handler(new ServerStreamReader<TRequest>(call.Incoming!, parser), new ServerStreamWriter<TResponse>(call), call.Context)
            .ConfigureAwait(false);
        return null;
    }
}

/// <summary>Messages of a stream, parsed as they are read. Ends when the peer half-closes.</summary>
internal sealed class ServerStreamReader<T>(IncomingMessages source, MessageParser<T> parser) : IAsyncStreamReader<T>
    where T : IMessage<T>
{
    public async IAsyncEnumerable<T> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await source.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (source.TryRead(out ByteString? payload))
            {
                yield return ServerMethod.Parse(parser, payload);
            }
        }
    }
}

internal sealed class ServerStreamWriter<T>(ServerCall call) : IServerStreamWriter<T>
    where T : IMessage<T>
{
    public ValueTask WriteAsync(T message, CancellationToken cancellationToken = default) =>
        call.WriteDataAsync(message, cancellationToken);
}
