using System.Buffers;
using System.Text;
using Cc.Ttrpc.Framing;
using Cc.Ttrpc.Transports;
using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace Cc.Ttrpc.Server;

/// <summary>
/// The server side of one connection: validates and dispatches Requests, routes Data frames to streaming
/// calls, and answers protocol errors on the offending stream id the way the Go v1.2 server does.
/// Per-stream problems get a status on that stream and the connection lives; only I/O errors end it.
/// </summary>
internal sealed class ServerConnection : IFrameHandler
{
    private const int NameScratchLength = 256;

    private readonly TtrpcServer _server;
    private readonly Connection _connection;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<uint, ServerCall> _calls = [];   // guarded by _lock: every call whose final frame is not sent
    private uint _lastStreamId;                                 // receive loop only: ids must strictly increase
    private bool _closeWhenIdle;                                // guarded by _lock
    // A Request whose id does not increase begins a new client session (see OnRequest).
    private readonly bool _sessionsRestart;

    public ServerConnection(TtrpcServer server, Transport transport, PeerCredentials? peer, ILogger logger, bool sessionsRestart = false)
    {
        _server = server;
        _logger = logger;
        _sessionsRestart = sessionsRestart;
        Peer = peer;
        _connection = new Connection(transport, logger);
        _connection.ReceivePaused = () => server.ReceivePaused?.Invoke();
    }

    public PeerCredentials? Peer { get; }

    public FrameSender Sender => _connection.Sender;

    public Task Completion => _connection.Completion;

    public void Start() => _connection.Start(this);

    public void Abort() => _connection.Abort(null);

    /// <summary>Graceful shutdown: close now if no call is in flight, else as soon as the last one finishes.</summary>
    public void CloseWhenIdle()
    {
        lock (_lock)
        {
            _closeWhenIdle = true;
            if (_calls.Count > 0)
            {
                return;
            }
        }

        _connection.CloseGracefully();
    }

    public void OnFrame(in FrameHeader header, in ReadOnlySequence<byte> payload)
    {
        uint id = header.StreamId;
        if (id % 2 != 1)
        {
            // Answered on the same even id so the client learns which id was bad.
            Reject(id, StatusCode.InvalidArgument, "StreamID must be odd for client initiated streams");
            return;
        }

        switch (header.Type)
        {
            case MessageType.Request:
                OnRequest(id, payload);
                break;
            case MessageType.Data:
                OnData(header, payload);
                break;
            default:
                // v1.2 ignores unknown types for forward compatibility; a Response from a client is just as meaningless.
                Log.UnknownFrameType(_logger, _connection.Name, (byte)header.Type, id);
                break;
        }
    }

    public void OnOversizedFrame(in FrameHeader header)
    {
        var error = TtrpcException.Oversized(header.Length);
        Reject(header.StreamId, error.Code, error.Message);
    }

    public void OnClosed(Exception? reason)
    {
        // Handlers still running saw their token fire through the connection's Aborted token; their final
        // frames are dropped because the sender is completed.
        _server.OnConnectionClosed(this);
    }

    private void OnRequest(uint id, in ReadOnlySequence<byte> payload)
    {
        if (id <= _lastStreamId)
        {
            if (!_sessionsRestart)
            {
                Reject(id, StatusCode.InvalidArgument, "StreamID cannot be re-used and must increment");
                return;
            }
            BeginSession(id);
        }

        _lastStreamId = id;
        Dispatch(id, payload);
    }

    /// <summary>
    /// A stream without a connection boundary both ends always see (a virtio-serial port: a host that hangs up and a new
    /// one that connects before the guest reads the hang-up, or a clone of a VM saved in that window) carries one host's
    /// client after another. A client never re-uses an id, so a Request whose id does not increase can only be a new
    /// client's, whichever of its requests is the first to arrive (not only id 1). The calls of the old session that still run are abandoned: their final frames are claimed
    /// here and never sent (the new client, whose ids start again, would take them for answers to its own calls, and the
    /// host that made them is gone), and they leave <see cref="_calls"/> so the new session's ids, Data frames included,
    /// reach only the new session's calls. Their handlers run on to their end; only what they answer is dropped.
    /// </summary>
    private void BeginSession(uint id)
    {
        int abandoned;
        lock (_lock)
        {
            abandoned = _calls.Count;
            foreach (ServerCall call in _calls.Values)
            {
                call.TryBeginFinish();
                call.Incoming?.Complete();
            }
            _calls.Clear();
        }

        Log.SessionRestarted(_logger, _connection.Name, id, _lastStreamId, abandoned);
    }

    /// <summary>
    /// Validates and starts one Request. The request message is parsed here, from the frame's segments, while its
    /// bytes are still in the pipe: no contiguous copy of the frame is made.
    /// </summary>
    private void Dispatch(uint id, in ReadOnlySequence<byte> data)
    {
        EnvelopeReader.Request request;
        try
        {
            request = EnvelopeReader.ReadRequest(data);
        }
        catch (FormatException ex)
        {
            Reject(id, StatusCode.InvalidArgument, $"unmarshal request error: {ex.Message}");
            return;
        }

        // Names longer than this (none registered is) are copied to an array before the lookup fails.
        Span<byte> scratch = stackalloc byte[NameScratchLength];
        if (!_server.TryGetService(EnvelopeReader.Flatten(request.Service, scratch), out ServiceDefinition? service))
        {
            Reject(id, StatusCode.Unimplemented, $"service {Encoding.UTF8.GetString(request.Service)}");
            return;
        }

        if (!service.TryGetMethod(EnvelopeReader.Flatten(request.Method, scratch), out string? methodName, out ServerMethod? method))
        {
            Reject(id, StatusCode.Unimplemented, $"method {Encoding.UTF8.GetString(request.Method)}");
            return;
        }

        IMessage? message = null;
        ByteString? firstMessage = null;
        if (method.AcceptsData)
        {
            firstMessage = request.Payload.IsEmpty ? null : UnsafeByteOperations.UnsafeWrap(request.Payload.ToArray());
        }
        else
        {
            try
            {
                message = method.ParseRequest(request.Payload);
            }
            catch (TtrpcException ex)
            {
                Reject(id, ex.Code, ex.Message);
                return;
            }
        }

        // A parsed request is held until its handler finishes; a streamed call's messages are held as they queue.
        long held = method.AcceptsData ? 0 : data.Length;
        _connection.Budget.Take(held);
        ServerCall call = CreateCall(id, service.Name, methodName, method, message, firstMessage, request.TimeoutNano,
            request.Metadata ?? new Metadata(), held);
        lock (_lock)
        {
            _calls.Add(id, call);
        }

        Sender.CallStarted(); // ended in OnCallFinished, after the call's final frame is queued

        ThreadPool.UnsafeQueueUserWorkItem(call, preferLocal: false);
    }

    private ServerCall CreateCall(uint id, string service, string methodName, ServerMethod method, IMessage? message,
        ByteString? firstMessage, long timeoutNano, Metadata metadata, long heldBytes)
    {
        CancellationToken token = _connection.Aborted;
        CancellationTokenSource? deadline = null;
        CancellationTokenRegistration abortLink = default;
        DateTimeOffset? deadlineAt = null;
        if (timeoutNano != 0)
        {
            // A negative timeout is already expired, as context.WithTimeout treats it.
            var timeout = TimeSpan.FromTicks(Math.Max(0, timeoutNano / TimeSpan.NanosecondsPerTick));
            TimeProvider time = _server.Options.TimeProvider;
            deadlineAt = time.GetUtcNow() + timeout;
            deadline = new CancellationTokenSource(timeout, time);
            abortLink = _connection.Aborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), deadline);
            token = deadline.Token;
        }

        var context = new ServerCallContext(service, methodName, metadata, token, deadlineAt, Peer);
        return new ServerCall(this, id, method, message, firstMessage, deadline, abortLink, context, _connection.Budget, heldBytes);
    }

    private void OnData(in FrameHeader header, in ReadOnlySequence<byte> payload)
    {
        uint id = header.StreamId;
        ServerCall? call;
        lock (_lock)
        {
            _calls.TryGetValue(id, out call);
        }

        if (call is null)
        {
            Reject(id, StatusCode.InvalidArgument, "StreamID is no longer active");
            return;
        }

        if (call.Incoming is null)
        {
            Log.DataIgnored(_logger, id);
            return;
        }

        // Protocol violations end the call with one InvalidArgument Response; the handler's own final frame is
        // then suppressed (the Go server may send both, racing its handler; the client only sees the first).
        if (header.Has(FrameFlags.RemoteClosed) && !payload.IsEmpty)
        {
            AbortCall(call, "data close message cannot include data");
            return;
        }

        if (!header.Has(FrameFlags.NoData)
            && !call.Incoming.TryWrite(UnsafeByteOperations.UnsafeWrap(payload.ToArray())))
        {
            AbortCall(call, "data handling error: stream closed by the client");
            return;
        }

        if (header.Has(FrameFlags.RemoteClosed))
        {
            call.Incoming.Complete();
        }
    }

    private void AbortCall(ServerCall call, string message)
    {
        call.Incoming!.Complete();
        if (call.TryBeginFinish())
        {
            Reject(call.StreamId, StatusCode.InvalidArgument, message);
        }
        else
        {
            Log.StreamRejected(_logger, _connection.Name, call.StreamId, StatusCode.InvalidArgument, message + " (after the call ended)");
        }
    }

    internal void OnCallFinished(ServerCall call)
    {
        bool close;
        lock (_lock)
        {
            // A call abandoned by a new session is no longer in _calls, where a new call may have its id by now.
            if (_calls.TryGetValue(call.StreamId, out ServerCall? current) && current == call)
            {
                _calls.Remove(call.StreamId);
            }
            close = _closeWhenIdle && _calls.Count == 0;
        }

        Sender.CallEnded();
        call.Incoming?.Abandon();
        _connection.Budget.Release(call.HeldBytes);

        if (close)
        {
            _connection.CloseGracefully();
        }
    }

    /// <summary>The status a handler failure becomes (api doc "Status and errors").</summary>
    internal Google.Rpc.Status ToStatus(ServerCall call, Exception exception)
    {
        var context = call.Context;
        StatusCode code;
        string message;
        switch (exception)
        {
            case TtrpcException ttrpc:
                code = ttrpc.Code;
                message = ttrpc.Message;
                if (code is StatusCode.Cancelled or StatusCode.DeadlineExceeded)
                {
                    Log.HandlerCancelled(_logger, context.Service, context.Method, call.StreamId, code);
                }

                return ttrpc.ToStatus();
            case OperationCanceledException when context.CancellationToken.IsCancellationRequested:
                // Go's texts for context.Canceled and context.DeadlineExceeded.
                (code, message) = call.DeadlineFired && !_connection.Aborted.IsCancellationRequested
                    ? (StatusCode.DeadlineExceeded, "context deadline exceeded")
                    : (StatusCode.Cancelled, "context canceled");
                Log.HandlerCancelled(_logger, context.Service, context.Method, call.StreamId, code);
                break;
            default:
                code = StatusCode.Unknown;
                message = exception.Message;
                Log.HandlerFailed(_logger, context.Service, context.Method, call.StreamId, exception);
                break;
        }

        return new Google.Rpc.Status { Code = (int)code, Message = message };
    }

    /// <summary>A protocol error on one stream: a Response with the status and an empty payload.</summary>
    private void Reject(uint id, StatusCode code, string message)
    {
        Log.StreamRejected(_logger, _connection.Name, id, code, message);
        SendResponse(id, new Google.Rpc.Status { Code = (int)code, Message = message }, null);
    }

    /// <summary>Queues a Response. A response that would exceed the frame limit becomes ResourceExhausted.</summary>
    internal void SendResponse(uint id, Google.Rpc.Status? status, IMessage? payload)
    {
        if (status is null && payload is ITrailingBytesMessage trailing && trailing.TrailingBytes.Length >= FrameSender.TailAtLeast
            && TrySendResponseWithTail(id, trailing))
        {
            return;
        }

        int payloadLength = payload?.CalculateSize() ?? 0;
        long length = Envelope.ResponseLength(status, payloadLength);
        if (length > FrameLimits.MessageLengthMax)
        {
            Log.ResponseTooLarge(_logger, id, length);
            status = TtrpcException.Oversized(length).ToStatus();
            payload = null;
            payloadLength = 0;
            length = Envelope.ResponseLength(status, 0);
        }

        _connection.Sender.TryAppend(id, MessageType.Response, FrameFlags.None, (int)length, (status, payload, payloadLength),
            static (span, s) => Envelope.WriteResponse(span, s.status, s.payload, s.payloadLength));
    }

    // An OK Response whose payload ends with a large bytes field: the frame up to that field's content is encoded into
    // the send buffer and the content follows it uncopied (FrameSender.TryAppendWithTail). False when it would exceed
    // the frame limit: the caller's ordinary path then answers ResourceExhausted.
    private bool TrySendResponseWithTail(uint id, ITrailingBytesMessage payload)
    {
        var tail = payload.TrailingBytes;
        int prefixLength = payload.CalculatePrefixSize();
        uint tag = ((uint)payload.TrailingFieldNumber << 3) | 2;
        int fieldHead = Envelope.VarintLength(tag) + Envelope.VarintLength((uint)tail.Length);
        long payloadLength = (long)prefixLength + fieldHead + tail.Length;
        if (payloadLength > FrameLimits.MessageLengthMax)
        {
            return false;
        }

        int envelopeHead = Envelope.ResponsePayloadHeadLength((int)payloadLength);
        if (envelopeHead + payloadLength > FrameLimits.MessageLengthMax)
        {
            return false;
        }

        int headLength = envelopeHead + prefixLength + fieldHead;
        _connection.Sender.TryAppendWithTail(id, MessageType.Response, FrameFlags.None, headLength,
            (payload, payloadLength: (int)payloadLength, prefixLength, tag, tailLength: tail.Length),
            static (span, s) =>
            {
                int at = Envelope.WriteResponsePayloadHead(span, s.payloadLength);
                s.payload.WritePrefix(span.Slice(at, s.prefixLength));
                at += s.prefixLength;
                at += Envelope.WriteVarint(span[at..], s.tag);
                Envelope.WriteVarint(span[at..], (uint)s.tailLength);
            },
            tail, payload.OnTrailingBytesWritten);
        return true;
    }

    /// <summary>Queues a Data frame; false when the connection no longer sends. Throws ResourceExhausted for an oversized message.</summary>
    internal bool TrySendData(uint id, FrameFlags flags, IMessage? message)
    {
        int length = message?.CalculateSize() ?? 0;
        if (length > FrameLimits.MessageLengthMax)
        {
            throw TtrpcException.Oversized(length);
        }

        return _connection.Sender.TryAppend(id, MessageType.Data, flags, length, message,
            static (span, m) => m!.WriteTo(span));
    }
}
