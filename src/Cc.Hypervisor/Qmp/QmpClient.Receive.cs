using System.Net.Sockets;
using System.Text.Json;
using System.Threading.Channels;

namespace Cc.Hypervisor.Qmp;

// The receive side: one loop reads messages in order and routes replies to their commands and
// events to subscribers. Any read failure is connection-fatal.
public sealed partial class QmpClient
{
    private async Task ReadLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                QmpInbound? message = await ReadMessageAsync(cancellationToken).ConfigureAwait(false);
                if (message is null)
                {
                    Close("QEMU closed the QMP socket", null);
                    return;
                }
                Dispatch(message);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Close("client disposed", null);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            Close("read failed: " + ex.Message, ex);
        }
        catch (QmpProtocolException ex)
        {
            Close(ex.Message, ex);
        }
    }

    private void Dispatch(QmpInbound message)
    {
        if (message.Event is { } name)
        {
            PublishEvent(name, message);
            return;
        }
        if (message.Return is null && message.Error is null)
        {
            throw new QmpProtocolException("QMP message is neither a reply nor an event");
        }
        // QEMU echoes our integer id; an error without id means QEMU could not parse a request,
        // which we never send, so it is logged rather than guessed at.
        if (message.Id is not { ValueKind: JsonValueKind.Number } idElement || !idElement.TryGetInt64(out long id))
        {
            QmpLog.ErrorWithoutId(_logger, _name, message.Error?.Class ?? "", message.Error?.Desc ?? message.Return?.ToString() ?? "");
            return;
        }
        Pending? pending;
        lock (_gate)
        {
            _pending.Remove(id, out pending);
        }
        if (pending is null)
        {
            QmpLog.OrphanReply(_logger, _name, id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return;
        }
        if (message.Error is { } error)
        {
            pending.Reply.TrySetException(new QmpErrorException(pending.Command, error.Class ?? "GenericError", error.Desc ?? ""));
        }
        else
        {
            pending.Reply.TrySetResult(message.Return!.Value);
        }
    }

    private void PublishEvent(string name, QmpInbound message)
    {
        QmpLog.Event(_logger, _name, name);
        DateTimeOffset timestamp = message.Timestamp is { } t
            ? DateTimeOffset.FromUnixTimeSeconds(t.Seconds).AddTicks(t.Microseconds * 10)
            : DateTimeOffset.UnixEpoch;
        var evt = new QmpEvent(name, message.Data ?? EmptyObject, timestamp);
        lock (_gate)
        {
            foreach (Channel<QmpEvent> s in _subscribers)
            {
                s.Writer.TryWrite(evt); // unbounded: never fails while open
            }
        }
    }

    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();

    /// <summary>Reads the next message; null at a clean end of stream between messages.</summary>
    private async Task<QmpInbound?> ReadMessageAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (TryTakeMessage(out QmpInbound? message))
            {
                return message;
            }
            if (_buffered == _buffer.Length)
            {
                Array.Resize(ref _buffer, Math.Min(_buffer.Length * 2, QmpFraming.MaxMessageBytes + 2));
            }
            int read = await _stream.ReadAsync(_buffer.AsMemory(_buffered), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                if (_buffered > 0)
                {
                    throw new QmpProtocolException($"QMP peer closed the connection inside a message ({_buffered} bytes unterminated)");
                }
                return null;
            }
            _buffered += read;
        }
    }

    private bool TryTakeMessage(out QmpInbound? message)
    {
        if (!QmpFraming.TryReadMessage(_buffer.AsSpan(0, _buffered), out int consumed, out ReadOnlySpan<byte> line))
        {
            // Blank lines may have been consumed even without a message.
            Shift(consumed);
            message = null;
            return false;
        }
        try
        {
            message = JsonSerializer.Deserialize(line, QmpJsonContext.Default.QmpInbound)
                ?? throw new QmpProtocolException("QMP message is JSON null");
        }
        catch (JsonException ex)
        {
            throw new QmpProtocolException("QMP message is not valid JSON: " + ex.Message, ex);
        }
        Shift(consumed);
        return true;
    }

    private void Shift(int consumed)
    {
        if (consumed == 0)
        {
            return;
        }
        _buffer.AsSpan(consumed, _buffered - consumed).CopyTo(_buffer);
        _buffered -= consumed;
    }
}
