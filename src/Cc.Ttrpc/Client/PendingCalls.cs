using System.Buffers;
using System.Threading.Channels;
using Cc.Ttrpc.Framing;
using Google.Protobuf;

namespace Cc.Ttrpc.Client;

/// <summary>A call the client's receive loop can route frames to, by stream id.</summary>
internal interface IPendingCall
{
    /// <summary>Called on the receive loop; must not block. The payload is valid only during the call.</summary>
    void OnFrame(in FrameHeader header, in ReadOnlySequence<byte> payload);

    /// <summary>Ends the call with an error; idempotent, the first outcome wins.</summary>
    void Fail(TtrpcException error);
}

/// <summary>
/// Shared lifetime of a client call: its slot in the client's map, the local deadline timer and the
/// caller's cancellation registration. Whatever ends the call first (response, deadline, cancel, connection
/// loss) runs <see cref="Release"/> once.
/// </summary>
internal abstract class PendingCallBase(TtrpcClient client) : IPendingCall
{
    private CancellationTokenRegistration _cancel;
    private ITimer? _timer;
    private int _released;

    protected TtrpcClient Client { get; } = client;

    public uint StreamId { get; set; }

    public abstract void OnFrame(in FrameHeader header, in ReadOnlySequence<byte> payload);

    public abstract void Fail(TtrpcException error);

    /// <summary>Starts the local deadline and watches the caller's token; call after the Request is queued.</summary>
    public void Arm(in CallOptions options, TimeProvider time)
    {
        if (options.CancellationToken.CanBeCanceled)
        {
            _cancel = options.CancellationToken.UnsafeRegister(
                static s => ((PendingCallBase)s!).Fail(new TtrpcException(StatusCode.Cancelled, "context canceled")), this);
        }

        if (options.Timeout is { } timeout)
        {
            _timer = time.CreateTimer(
                static s => ((PendingCallBase)s!).Fail(new TtrpcException(StatusCode.DeadlineExceeded, "context deadline exceeded")),
                this, timeout < TimeSpan.Zero ? TimeSpan.Zero : timeout, Timeout.InfiniteTimeSpan);
        }

        // The call may have ended before the registrations existed; release them now if so.
        if (Volatile.Read(ref _released) != 0)
        {
            DisposeWatchers();
        }
    }

    /// <summary>Frees the stream id slot and stops the watchers. Later frames for the id are dropped as inactive.</summary>
    protected void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            return;
        }

        Client.Forget(StreamId, this);
        DisposeWatchers();
    }

    private void DisposeWatchers()
    {
        _cancel.Unregister(); // never waits, so it is safe from inside the callback
        _timer?.Dispose();
    }

    protected static Wire.Response ParseResponse(in ReadOnlySequence<byte> payload) => Wire.Response.Parser.ParseFrom(payload);

    protected static TtrpcException BadResponse(Exception ex) =>
        new(StatusCode.Internal, $"ttrpc: invalid response frame: {ex.Message}", ex);
}

/// <summary>
/// A unary call: exactly one Response frame ends it. The response message is parsed on the receive loop
/// straight from the frame's segments (no intermediate copy of the payload).
/// </summary>
internal sealed class UnaryCall<TResponse>(TtrpcClient client, MessageParser<TResponse> parser) : PendingCallBase(client)
    where TResponse : IMessage<TResponse>
{
    private readonly TaskCompletionSource<TResponse> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<TResponse> Result => _result.Task;

    public override void OnFrame(in FrameHeader header, in ReadOnlySequence<byte> payload)
    {
        if (header.Type != MessageType.Response)
        {
            Fail(new TtrpcException(StatusCode.Internal, "ttrpc: received data from non-streaming server"));
            return;
        }

        Complete(payload);
    }

    /// <summary>Parses the Response and the message in it straight from the frame's segments (no contiguous copy).</summary>
    private void Complete(in ReadOnlySequence<byte> data)
    {
        TResponse result;
        try
        {
            var response = EnvelopeReader.ReadResponse(data);
            if (!response.Status.IsEmpty)
            {
                var status = Google.Rpc.Status.Parser.ParseFrom(response.Status);
                if (status.Code != 0)
                {
                    Fail(TtrpcException.FromStatus(status));
                    return;
                }
            }

            result = parser.ParseFrom(response.Payload);
        }
        catch (FormatException ex)
        {
            Fail(BadResponse(ex));
            return;
        }
        catch (InvalidProtocolBufferException ex)
        {
            Fail(new TtrpcException(StatusCode.Internal, $"ttrpc: failed to unmarshal response: {ex.Message}", ex));
            return;
        }

        // Released before the caller can resume: a lone caller's next Request then sees no other call in
        // flight and is written inline (FrameSender.SendLoopScheduler). Release is idempotent, so a racing
        // Fail releasing too is harmless; the first TrySet still decides the outcome.
        Release();
        _result.TrySetResult(result);
    }

    public override void Fail(TtrpcException error)
    {
        Release();
        _result.TrySetException(error);
    }
}

/// <summary>
/// A streaming call. Incoming Data frames queue as messages; a Data frame with RemoteClosed ends a server
/// stream; a Response ends the call (with its payload as the result of a client stream, or with an error).
/// </summary>
internal sealed class StreamCall(TtrpcClient client, bool serverStreams) : PendingCallBase(client)
{
    private readonly Channel<ByteString> _messages = Channel.CreateUnbounded<ByteString>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly TaskCompletionSource<Wire.Response?> _final = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _sendLock = new();
    private bool _sendClosed; // guarded by _sendLock

    public ChannelReader<ByteString> Messages => _messages.Reader;

    /// <summary>The final Response (null when a server stream ended with a RemoteClosed Data frame).</summary>
    public Task<Wire.Response?> Final => _final.Task;

    public override void OnFrame(in FrameHeader header, in ReadOnlySequence<byte> payload)
    {
        if (header.Type == MessageType.Data)
        {
            if (!serverStreams)
            {
                Fail(new TtrpcException(StatusCode.Internal, "ttrpc: received data from non-streaming server"));
                return;
            }

            if (!header.Has(FrameFlags.NoData))
            {
                _messages.Writer.TryWrite(UnsafeByteOperations.UnsafeWrap(payload.ToArray()));
            }

            if (header.Has(FrameFlags.RemoteClosed))
            {
                _messages.Writer.TryComplete();
                if (_final.TrySetResult(null))
                {
                    Release();
                }
            }

            return;
        }

        if (header.Type != MessageType.Response)
        {
            return;
        }

        Wire.Response response;
        try
        {
            response = ParseResponse(payload);
        }
        catch (InvalidProtocolBufferException ex)
        {
            Fail(BadResponse(ex));
            return;
        }

        if (response.Status is { Code: not 0 } status)
        {
            Fail(TtrpcException.FromStatus(status));
            return;
        }

        // The Go client delivers an OK Response's payload to a stream reader as the last message.
        if (serverStreams && !response.Payload.IsEmpty)
        {
            _messages.Writer.TryWrite(response.Payload);
        }

        _messages.Writer.TryComplete();
        if (_final.TrySetResult(response))
        {
            Release();
        }
    }

    public override void Fail(TtrpcException error)
    {
        _messages.Writer.TryComplete(error);
        if (_final.TrySetException(error))
        {
            Release();
        }
    }

    /// <summary>Queues one request message (a Data frame); the order of calls is the order on the wire.</summary>
    public async ValueTask SendAsync(IMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        int length = message.CalculateSize();
        if (length > FrameLimits.MessageLengthMax)
        {
            throw TtrpcException.Oversized(length);
        }

        await Client.WaitForRoomAsync(cancellationToken).ConfigureAwait(false);
        SendFrame(FrameFlags.None, length, message);
    }

    /// <summary>Half-closes the request side: an empty Data frame with RemoteClosed|NoData, as the Go client sends.</summary>
    public void CompleteSend() => SendFrame(FrameFlags.RemoteClosed | FrameFlags.NoData, 0, null);

    private void SendFrame(FrameFlags flags, int length, IMessage? message)
    {
        if (_final.Task.IsCompleted)
        {
            throw _final.Task.Exception?.InnerException
                ?? new InvalidOperationException("ttrpc: the call has already completed");
        }

        lock (_sendLock)
        {
            if (_sendClosed)
            {
                throw new InvalidOperationException("ttrpc: the request stream is already complete");
            }

            _sendClosed = flags.HasFlag(FrameFlags.RemoteClosed);
            if (!Client.Sender.TryAppend(StreamId, MessageType.Data, flags, length, message, static (span, m) => m!.WriteTo(span)))
            {
                throw TtrpcException.Closed(Client.CloseReason);
            }
        }
    }
}
