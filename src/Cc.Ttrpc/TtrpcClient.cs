using System.Buffers;
using System.Collections.Concurrent;
using Cc.Ttrpc.Client;
using Cc.Ttrpc.Framing;
using Cc.Ttrpc.Transports;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Ttrpc;

public sealed record TtrpcClientOptions
{
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Added to every call before the call's own metadata (e.g. the containerd namespace).</summary>
    public Metadata? DefaultMetadata { get; init; }

    /// <summary>
    /// Told of every unary call once it has ended: its service, method, status (<see cref="StatusCode.Ok"/> when it
    /// answered) and how long it took from its start to its end. Called on the caller's path: it must be cheap and
    /// must not throw (metrics, not logic).
    /// </summary>
    public UnaryCallObserver? CallObserver { get; init; }

    /// <summary>How a connection made by <see cref="TtrpcClient.ConnectAsync"/> moves its bytes; null: the stream transport.</summary>
    public SocketTransportFactory? SocketTransport { get; init; }
}

/// <summary>See <see cref="TtrpcClientOptions.CallObserver"/>.</summary>
public delegate void UnaryCallObserver(string service, string method, StatusCode code, TimeSpan elapsed);

/// <summary>
/// A ttrpc client: many concurrent calls multiplexed on one connection. Stream ids are odd, start at 1
/// and are allocated under the sender's gate together with the Request's append, so ids on the wire
/// strictly increase (ttrpc v1.2 servers reject anything else).
/// </summary>
public sealed partial class TtrpcClient : IFrameHandler, IAsyncDisposable
{
    private readonly Connection _connection;
    private readonly ConcurrentDictionary<uint, IPendingCall> _calls = new();
    private readonly ILogger _logger;
    private readonly TtrpcClientOptions _options;
    private uint _nextStreamId = 1; // guarded by Sender.Gate

    /// <summary>A client over any duplex stream (the guest's virtio-serial port, an in-memory pipe). Takes ownership of the stream.</summary>
    public TtrpcClient(Stream stream, TtrpcClientOptions? options = null)
        : this(new StreamTransport(stream ?? throw new ArgumentNullException(nameof(stream))), options)
    {
    }

    private TtrpcClient(Transport transport, TtrpcClientOptions? options)
    {
        _options = options ?? new TtrpcClientOptions();
        _logger = _options.LoggerFactory.CreateLogger("Cc.Ttrpc.Client");
        _connection = new Connection(transport, _logger);
        _connection.Start(this);
    }

    /// <summary>Connects to <paramref name="address"/>; see <see cref="TtrpcAddress"/> for the forms.</summary>
    public static async Task<TtrpcClient> ConnectAsync(string address, TtrpcClientOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var endPoint = TtrpcAddress.Parse(address);
        var socket = TtrpcAddress.CreateSocket(endPoint);
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new TtrpcClient(SocketTransports.Create(socket, options?.SocketTransport), options);
    }

    /// <summary>Completes when the connection has ended (after <see cref="DisposeAsync"/> too). Never faults.</summary>
    public Task Completion => _connection.Completion;

    /// <summary>The first recorded reason the connection ended; null while open and after a clean local dispose.</summary>
    public Exception? CloseReason => _connection.CloseReason;

    internal FrameSender Sender => _connection.Sender;

    public async Task<TResponse> UnaryAsync<TRequest, TResponse>(string service, string method, TRequest request,
        MessageParser<TResponse> parser, CallOptions options = default)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(parser);
        if (_options.CallObserver is not { } observer)
        {
            return await CallAsync().ConfigureAwait(false);
        }
        var started = _options.TimeProvider.GetTimestamp();
        try
        {
            var response = await CallAsync().ConfigureAwait(false);
            observer(service, method, StatusCode.Ok, _options.TimeProvider.GetElapsedTime(started));
            return response;
        }
        catch (TtrpcException e)
        {
            observer(service, method, e.Code, _options.TimeProvider.GetElapsedTime(started));
            throw;
        }

        async Task<TResponse> CallAsync()
        {
            var call = new UnaryCall<TResponse>(this, parser);
            await WaitForRoomAsync(options.CancellationToken).ConfigureAwait(false);
            Start(call, service, method, request, FrameFlags.None, options);
            return await call.Result.ConfigureAwait(false);
        }
    }

    /// <summary>Ends the connection; every pending call fails with Unavailable "ttrpc: closed".</summary>
    public async ValueTask DisposeAsync()
    {
        _connection.Abort(null);
        await _connection.Completion.ConfigureAwait(false);
    }

    /// <summary>
    /// Queues the Request of a new call and arms its deadline and cancellation. Fails before anything is
    /// written when the request is oversized, the token is already cancelled or the connection is closed.
    /// Never blocks: the Request is appended to the in-memory send queue.
    /// </summary>
    private void Start(PendingCallBase call, string service, string method, IMessage? request,
        FrameFlags flags, CallOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        ArgumentException.ThrowIfNullOrEmpty(method);
        int payloadLength = request?.CalculateSize() ?? 0;
        long timeoutNano = 0;
        if (options.Timeout is { } timeout)
        {
            if (timeout <= TimeSpan.Zero)
            {
                throw new TtrpcException(StatusCode.DeadlineExceeded, "context deadline exceeded");
            }

            timeoutNano = timeout.Ticks * TimeSpan.NanosecondsPerTick;
        }

        var parts = new Envelope.RequestParts(service, method, request, payloadLength, timeoutNano,
            _options.DefaultMetadata, options.Metadata);
        long length = Envelope.RequestLength(parts);
        if (length > FrameLimits.MessageLengthMax)
        {
            throw TtrpcException.Oversized(length);
        }

        if (options.CancellationToken.IsCancellationRequested)
        {
            throw new TtrpcException(StatusCode.Cancelled, "context canceled");
        }

        lock (Sender.Gate)
        {
            uint id = _nextStreamId;
            if (id > uint.MaxValue - 2)
            {
                // Ids may never be reused on a connection and the protocol defines no wrap-around.
                throw new TtrpcException(StatusCode.Unavailable, "ttrpc: stream ids exhausted on this connection; reconnect");
            }

            call.StreamId = id;
            _calls[id] = call; // before the append: the response may arrive before TryAppendLocked returns
            Sender.CallStarted(); // ended by Forget, once, whoever removes the call from the map
            if (!Sender.TryAppendLocked(id, MessageType.Request, flags, (int)length, parts,
                    static (span, p) => Envelope.WriteRequest(span, p)))
            {
                Forget(id, call);
                throw TtrpcException.Closed(CloseReason);
            }

            _nextStreamId = id + 2;
        }

        call.Arm(options, _options.TimeProvider);
    }

    internal async ValueTask WaitForRoomAsync(CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            throw new TtrpcException(StatusCode.Cancelled, "context canceled");
        }

        try
        {
            await Sender.WaitForRoomAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested)
        {
            throw new TtrpcException(StatusCode.Cancelled, "context canceled", ex);
        }
    }

    internal void Forget(uint streamId, IPendingCall call)
    {
        if (_calls.TryRemove(new KeyValuePair<uint, IPendingCall>(streamId, call)))
        {
            Sender.CallEnded();
        }
    }

    void IFrameHandler.OnFrame(in FrameHeader header, in ReadOnlySequence<byte> payload)
    {
        if (_calls.TryGetValue(header.StreamId, out IPendingCall? call))
        {
            call.OnFrame(header, payload);
            return;
        }

        // The caller gave up (deadline, cancel) or the server is confused; either way nobody waits for it.
        Log.InactiveStream(_logger, header.Type, header.StreamId);
    }

    void IFrameHandler.OnOversizedFrame(in FrameHeader header)
    {
        if (_calls.TryGetValue(header.StreamId, out IPendingCall? call))
        {
            call.Fail(TtrpcException.Oversized(header.Length));
            return;
        }

        Log.InactiveStream(_logger, header.Type, header.StreamId);
    }

    void IFrameHandler.OnClosed(Exception? reason)
    {
        // Sender.Complete ran before this, under the gate, so no call can register after this sweep.
        foreach (var call in _calls.Values)
        {
            call.Fail(TtrpcException.Closed(reason));
        }
    }
}
