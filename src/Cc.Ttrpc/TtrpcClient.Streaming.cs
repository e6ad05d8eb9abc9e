using Cc.Ttrpc.Client;
using Cc.Ttrpc.Framing;
using Google.Protobuf;

namespace Cc.Ttrpc;

public sealed partial class TtrpcClient
{
    /// <summary>Server streaming: the request travels in the Request frame (flag RemoteClosed); responses arrive as Data frames.</summary>
    public ServerStreamingCall<TResponse> ServerStreaming<TRequest, TResponse>(string service, string method,
        TRequest request, MessageParser<TResponse> parser, CallOptions options = default)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(request);
        var call = new StreamCall(this, serverStreams: true);
        // Streaming starters are synchronous by contract, so they skip the backpressure wait of UnaryAsync.
        Start(call, service, method, request, FrameFlags.RemoteClosed, options);
        return new ServerStreamingCall<TResponse>(call, parser);
    }

    /// <summary>Client streaming: Request with RemoteOpen, then Data frames; one Response ends the call.</summary>
    public ClientStreamingCall<TRequest, TResponse> ClientStreaming<TRequest, TResponse>(string service,
        string method, MessageParser<TResponse> parser, CallOptions options = default)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        var call = new StreamCall(this, serverStreams: false);
        Start(call, service, method, null, FrameFlags.RemoteOpen, options);
        return new ClientStreamingCall<TRequest, TResponse>(call, parser);
    }

    /// <summary>Bidirectional streaming: Request with RemoteOpen, Data frames both ways.</summary>
    public DuplexStreamingCall<TRequest, TResponse> DuplexStreaming<TRequest, TResponse>(string service,
        string method, MessageParser<TResponse> parser, CallOptions options = default)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        var call = new StreamCall(this, serverStreams: true);
        Start(call, service, method, null, FrameFlags.RemoteOpen, options);
        return new DuplexStreamingCall<TRequest, TResponse>(call, parser);
    }
}

/// <summary>A server-streaming call in progress.</summary>
public sealed class ServerStreamingCall<TResponse> : IDisposable
    where TResponse : IMessage<TResponse>
{
    private readonly StreamCall _call;

    internal ServerStreamingCall(StreamCall call, MessageParser<TResponse> parser)
    {
        _call = call;
        ResponseStream = new ClientStreamReader<TResponse>(call, parser);
    }

    /// <summary>The responses; enumeration ends when the server closes the stream and throws TtrpcException on failure.</summary>
    public IAsyncStreamReader<TResponse> ResponseStream { get; }

    /// <summary>Abandons the call locally (the server is not told: ttrpc has no cancel message).</summary>
    public void Dispose() => _call.Fail(new TtrpcException(StatusCode.Cancelled, "ttrpc: call disposed"));
}

/// <summary>A client-streaming call in progress.</summary>
public sealed class ClientStreamingCall<TRequest, TResponse> : IDisposable
    where TRequest : IMessage<TRequest>
    where TResponse : IMessage<TResponse>
{
    private readonly StreamCall _call;

    internal ClientStreamingCall(StreamCall call, MessageParser<TResponse> parser)
    {
        _call = call;
        RequestStream = new ClientStreamWriter<TRequest>(call);
        ResponseAsync = ClientStreamReader<TResponse>.ReadFinalAsync(call, parser);
    }

    public IClientStreamWriter<TRequest> RequestStream { get; }

    /// <summary>The single response; throws TtrpcException on a non-OK status or local failure.</summary>
    public Task<TResponse> ResponseAsync { get; }

    /// <summary>Abandons the call locally (the server is not told: ttrpc has no cancel message).</summary>
    public void Dispose() => _call.Fail(new TtrpcException(StatusCode.Cancelled, "ttrpc: call disposed"));
}

/// <summary>A bidirectional streaming call in progress.</summary>
public sealed class DuplexStreamingCall<TRequest, TResponse> : IDisposable
    where TRequest : IMessage<TRequest>
    where TResponse : IMessage<TResponse>
{
    private readonly StreamCall _call;

    internal DuplexStreamingCall(StreamCall call, MessageParser<TResponse> parser)
    {
        _call = call;
        RequestStream = new ClientStreamWriter<TRequest>(call);
        ResponseStream = new ClientStreamReader<TResponse>(call, parser);
    }

    public IClientStreamWriter<TRequest> RequestStream { get; }

    public IAsyncStreamReader<TResponse> ResponseStream { get; }

    /// <summary>Abandons the call locally (the server is not told: ttrpc has no cancel message).</summary>
    public void Dispose() => _call.Fail(new TtrpcException(StatusCode.Cancelled, "ttrpc: call disposed"));
}
