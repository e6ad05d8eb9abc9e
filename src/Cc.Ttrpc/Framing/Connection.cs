using System.Buffers;
using System.IO.Pipelines;
using Cc.Ttrpc.Transports;
using Microsoft.Extensions.Logging;

namespace Cc.Ttrpc.Framing;

/// <summary>What a connection's owner (the server side or the client) does with incoming frames.</summary>
internal interface IFrameHandler
{
    /// <summary>Called on the receive loop, one frame at a time; must not block. The payload is valid only during the call.</summary>
    void OnFrame(in FrameHeader header, in ReadOnlySequence<byte> payload);

    /// <summary>A frame longer than the limit; its body is being discarded. The connection lives on.</summary>
    void OnOversizedFrame(in FrameHeader header);

    /// <summary>Called once, after both loops have ended. <paramref name="reason"/> is null after a local close.</summary>
    void OnClosed(Exception? reason);
}

/// <summary>
/// One ttrpc connection over a <see cref="Transport"/>: a receive loop that parses frames from its PipeReader and
/// hands them to an <see cref="IFrameHandler"/>, and a <see cref="FrameSender"/> loop for writes.
/// There is one shutdown path, <see cref="Abort"/>: idempotent, the first reason is recorded, both loops are
/// awaited before <see cref="Completion"/> completes.
/// </summary>
internal sealed class Connection
{
    private static readonly TimeSpan ReceiveStopGrace = TimeSpan.FromSeconds(2);
    private static int s_nextId;

    private readonly Transport _transport;
    private readonly PipeReader _reader;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _aborted = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IFrameHandler? _handler;
    private int _tornDown;      // 1 once Abort ran
    private int _draining;      // 1 once CloseGracefully ran
    private Exception? _reason; // written once, before _aborted is cancelled

    public Connection(Transport transport, ILogger logger)
    {
        _transport = transport;
        _logger = logger;
        _reader = transport.Input;
        Name = $"#{Interlocked.Increment(ref s_nextId)}";
    }

    /// <summary>A short id for logs.</summary>
    public string Name { get; }

    public FrameSender Sender { get; } = new();

    /// <summary>What the owner holds of the peer's bytes; the receive loop stops reading while it is exhausted.</summary>
    public ReceiveBudget Budget { get; } = new();

    /// <summary>Told each time the receive loop stops reading because <see cref="Budget"/> is exhausted (tests, logs).</summary>
    public Action? ReceivePaused { get; set; }

    /// <summary>Cancelled when the connection is being torn down (abortive close, I/O error, EOF).</summary>
    public CancellationToken Aborted => _aborted.Token;

    /// <summary>The first recorded close reason; null while open or after a clean local close.</summary>
    public Exception? CloseReason => Volatile.Read(ref _reason);

    /// <summary>Completes after both loops ended and the handler's OnClosed ran; never faults.</summary>
    public Task Completion => _completion.Task;

    public void Start(IFrameHandler handler)
    {
        _handler = handler;
        _ = RunAsync();
    }

    /// <summary>Ends the connection now. The first caller's reason wins; later calls do nothing.</summary>
    public void Abort(Exception? reason)
    {
        if (Interlocked.Exchange(ref _tornDown, 1) != 0)
        {
            return;
        }

        TearDown(reason);
    }

    /// <summary>Stops accepting new frames, lets queued frames reach the peer, then closes. Idempotent.</summary>
    public void CloseGracefully()
    {
        if (Interlocked.Exchange(ref _draining, 1) != 0)
        {
            return;
        }

        // The send loop ends once the queue is written; RunAsync then tears down with a null reason.
        Sender.Complete();
    }

    private void TearDown(Exception? reason)
    {
        Volatile.Write(ref _reason, reason);
        if (reason is null)
        {
            Log.ConnectionClosed(_logger, Name, "closed locally");
        }
        else if (reason is EndOfStreamException)
        {
            Log.ConnectionClosed(_logger, Name, reason.Message);
        }
        else
        {
            Log.ConnectionFailed(_logger, Name, reason);
        }

        Sender.Complete();
        try
        {
            _aborted.Cancel();
        }
        catch (AggregateException)
        {
            // A registration threw; the connection is going away regardless.
        }

        _reader.CancelPendingRead();
        _transport.Close();
    }

    private async Task RunAsync()
    {
        Task receive = ReceiveLoopAsync();
        Task send = SendLoopAsync();
        await send.ConfigureAwait(false);
        // A graceful close lands here with the queue written: close the transport to end the receive loop.
        Abort(null);

        // Sockets and pipes end a pending read on cancel or dispose. A blocking read on a character device
        // (a FileStream over a virtio-serial port) may not: bound the wait so the close still completes; the
        // loop then exits by itself whenever that read returns, and dispatches nothing more.
        if (await Task.WhenAny(receive, Task.Delay(ReceiveStopGrace)).ConfigureAwait(false) != receive)
        {
            Log.ReceiveLoopStuck(_logger, Name, ReceiveStopGrace);
        }

        try
        {
            _handler!.OnClosed(CloseReason);
        }
        finally
        {
            _completion.TrySetResult();
        }
    }

    private async Task SendLoopAsync()
    {
        try
        {
            await Sender.RunAsync(_transport, _aborted.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (_aborted.IsCancellationRequested)
        {
            _ = ex; // torn down by the other side of the connection; the first reason is already recorded
        }
        catch (Exception ex)
        {
            Abort(new IOException($"ttrpc: write failed: {ex.Message}", ex));
        }
    }

    private async Task ReceiveLoopAsync()
    {
        try
        {
            await ReceiveFramesAsync().ConfigureAwait(false);
        }
        finally
        {
            await _reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    private async Task ReceiveFramesAsync()
    {
        var decoder = new FrameDecoder();
        Exception? reason;
        try
        {
            while (true)
            {
                ReadResult result = await _reader.ReadAsync(_aborted.Token).ConfigureAwait(false);
                if (result.IsCanceled || _aborted.IsCancellationRequested)
                {
                    return; // torn down: frames that arrive now are not dispatched
                }

                ReadOnlySequence<byte> buffer = result.Buffer;
                try
                {
                    while (decoder.TryReadFrame(ref buffer, out FrameHeader header, out var payload, out bool oversized))
                    {
                        if (oversized)
                        {
                            _handler!.OnOversizedFrame(header);
                        }
                        else
                        {
                            _handler!.OnFrame(header, payload);
                        }
                    }
                }
                finally
                {
                    _reader.AdvanceTo(buffer.Start, buffer.End);
                }

                if (result.IsCompleted)
                {
                    reason = buffer.IsEmpty && !decoder.IsDiscarding
                        ? new EndOfStreamException("ttrpc: connection closed by peer")
                        : new EndOfStreamException($"ttrpc: connection closed by peer inside a frame ({buffer.Length} bytes pending)");
                    break;
                }

                if (Budget.IsExhausted)
                {
                    // Read no more until handlers and stream readers give bytes back (ReceiveBudget).
                    Log.ReceivePaused(_logger, Name, Budget.Held, ReceiveBudget.Limit);
                    ReceivePaused?.Invoke();
                    await Budget.WaitForRoomAsync(_aborted.Token).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (_aborted.IsCancellationRequested)
        {
            _ = ex; // we are tearing down; the first reason is already recorded
            return;
        }
        catch (Exception ex)
        {
            reason = ex is IOException ? ex : new IOException($"ttrpc: receive failed: {ex.Message}", ex);
        }

        Abort(reason);
    }
}
