using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;
using Cc.Ttrpc.Framing;
using Google.Protobuf;

namespace Cc.Ttrpc.Server;

/// <summary>
/// The Data frames of one client-streaming or duplex call, queued by the receive loop for the handler's reader.
/// Their bytes are held against the connection's <see cref="ReceiveBudget"/> until the reader takes them or the call
/// ends, so a client streaming faster than its handler reads stops being read from instead of filling our memory.
/// </summary>
internal sealed class IncomingMessages(ReceiveBudget budget)
{
    private readonly Channel<ByteString> _channel = Channel.CreateUnbounded<ByteString>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    /// <summary>Queues a message (the receive loop only); false once the queue is complete.</summary>
    public bool TryWrite(ByteString message)
    {
        budget.Take(message.Length);
        if (_channel.Writer.TryWrite(message))
        {
            return true;
        }

        budget.Release(message.Length);
        return false;
    }

    /// <summary>The client half-closed, or the call was aborted: the reader ends after what is queued.</summary>
    public void Complete() => _channel.Writer.TryComplete();

    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken) => _channel.Reader.WaitToReadAsync(cancellationToken);

    public bool TryRead([MaybeNullWhen(false)] out ByteString message)
    {
        if (!_channel.Reader.TryRead(out message))
        {
            return false;
        }

        budget.Release(message.Length);
        return true;
    }

    /// <summary>The call has ended: what its handler never read is dropped and no longer held against the connection.</summary>
    public void Abandon()
    {
        _channel.Writer.TryComplete();
        while (_channel.Reader.TryRead(out ByteString? message))
        {
            budget.Release(message.Length);
        }
    }
}
