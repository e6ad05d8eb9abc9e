using Cc.Ttrpc.Framing;
using Google.Protobuf;

namespace Cc.Ttrpc.Server;

/// <summary>
/// One accepted Request: runs its handler on the thread pool (each request concurrently, as the Go server
/// runs a goroutine per request) and sends the final frame exactly once.
/// </summary>
internal sealed class ServerCall : IThreadPoolWorkItem
{
    private readonly ServerConnection _owner;
    private readonly ServerMethod _method;
    private readonly CancellationTokenSource? _deadline;
    private readonly CancellationTokenRegistration _abortLink;
    private int _finished; // 1 once the final frame is claimed (see TryBeginFinish); later Data writes fail

    public ServerCall(ServerConnection owner, uint streamId, ServerMethod method, IMessage? request, ByteString? firstMessage,
        CancellationTokenSource? deadline, CancellationTokenRegistration abortLink, ServerCallContext context,
        ReceiveBudget budget, long heldBytes)
    {
        _owner = owner;
        StreamId = streamId;
        _method = method;
        _deadline = deadline;
        _abortLink = abortLink;
        Request = request;
        Context = context;
        HeldBytes = heldBytes;
        if (method.AcceptsData)
        {
            Incoming = new IncomingMessages(budget);
            // A payload inside the Request of a client-streaming call is its first message (services.go does the same).
            if (firstMessage is not null)
            {
                Incoming.TryWrite(firstMessage);
            }
        }
    }

    /// <summary>The request's bytes held against the connection's <see cref="ReceiveBudget"/> until the call ends.</summary>
    public long HeldBytes { get; }

    public uint StreamId { get; }

    /// <summary>The parsed request of unary and server-streaming calls.</summary>
    public IMessage? Request { get; }

    public ServerCallContext Context { get; }

    public ServerMethod Method => _method;

    /// <summary>Data frames from the client, for methods that accept them; written by the receive loop only.</summary>
    public IncomingMessages? Incoming { get; }

    public bool DeadlineFired => _deadline?.IsCancellationRequested == true;

    void IThreadPoolWorkItem.Execute() => _ = RunAsync();

    private async Task RunAsync()
    {
        Google.Rpc.Status? status = null;
        IMessage? response = null;
        try
        {
            response = await _method.InvokeAsync(this).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            status = _owner.ToStatus(this, ex);
        }

        try
        {
            Finish(status, response);
        }
        catch (Exception ex) when (status is null)
        {
            // The response could not be encoded; the caller still gets exactly one final frame.
            _owner.SendResponse(StreamId, _owner.ToStatus(this, new TtrpcException(StatusCode.Internal, $"ttrpc: failed to send the response: {ex.Message}", ex)), null);
        }
        finally
        {
            _abortLink.Dispose();
            _deadline?.Dispose();
            _owner.OnCallFinished(this);
        }
    }

    private void Finish(Google.Rpc.Status? status, IMessage? response)
    {
        if (!TryBeginFinish())
        {
            return; // the connection already answered this stream with a protocol error
        }

        if (status is null && _method.SendsData)
        {
            // Successful end of a server stream: an empty Data frame with RemoteClosed, not a Response.
            _owner.TrySendData(StreamId, Framing.FrameFlags.RemoteClosed | Framing.FrameFlags.NoData, null);
            return;
        }

        _owner.SendResponse(StreamId, status, status is null ? response : null);
    }

    /// <summary>Claims the right to send the call's one final frame; false when someone already did.</summary>
    public bool TryBeginFinish() => Interlocked.Exchange(ref _finished, 1) == 0;

    /// <summary>One streamed response message (a Data frame without flags).</summary>
    public async ValueTask WriteDataAsync(IMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (Volatile.Read(ref _finished) != 0)
        {
            throw new InvalidOperationException("ttrpc: the call has already completed");
        }

        await _owner.Sender.WaitForRoomAsync(cancellationToken).ConfigureAwait(false);
        if (!_owner.TrySendData(StreamId, Framing.FrameFlags.None, message))
        {
            throw TtrpcException.Closed();
        }
    }
}
