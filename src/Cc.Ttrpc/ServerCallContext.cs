namespace Cc.Ttrpc;

/// <summary>What a handler knows about its call.</summary>
public sealed class ServerCallContext
{
    internal ServerCallContext(string service, string method, Metadata requestMetadata,
        CancellationToken cancellationToken, DateTimeOffset? deadline, PeerCredentials? peer)
    {
        Service = service;
        Method = method;
        RequestMetadata = requestMetadata;
        CancellationToken = cancellationToken;
        Deadline = deadline;
        Peer = peer;
    }

    public string Service { get; }

    public string Method { get; }

    public Metadata RequestMetadata { get; }

    /// <summary>Fires at the <c>timeout_nano</c> deadline or when the connection is closed abortively.</summary>
    public CancellationToken CancellationToken { get; }

    public DateTimeOffset? Deadline { get; }

    /// <summary>SO_PEERCRED on unix sockets, else null.</summary>
    public PeerCredentials? Peer { get; }
}

/// <summary>Server side of a streaming response.</summary>
public interface IServerStreamWriter<in T>
{
    ValueTask WriteAsync(T message, CancellationToken cancellationToken = default);
}

/// <summary>Incoming messages of a stream, ending when the peer half-closes.</summary>
public interface IAsyncStreamReader<T>
{
    IAsyncEnumerable<T> ReadAllAsync(CancellationToken cancellationToken = default);
}

/// <summary>Client side of a streaming request.</summary>
public interface IClientStreamWriter<in T>
{
    ValueTask WriteAsync(T message, CancellationToken cancellationToken = default);

    /// <summary>Half-closes the request side (Data frame with RemoteClosed|NoData).</summary>
    ValueTask CompleteAsync();
}
