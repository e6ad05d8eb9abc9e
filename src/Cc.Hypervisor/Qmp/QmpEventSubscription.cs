using System.Threading.Channels;

namespace Cc.Hypervisor.Qmp;

/// <summary>
/// Events delivered since <see cref="QmpClient.SubscribeEvents"/>, in arrival order. The stream ends
/// when the connection closes or the subscription is disposed.
/// </summary>
public sealed class QmpEventSubscription : IDisposable
{
    private readonly QmpClient _client;
    private readonly Channel<QmpEvent> _channel;

    internal QmpEventSubscription(QmpClient client, Channel<QmpEvent> channel)
    {
        _client = client;
        _channel = channel;
    }

    /// <summary>Reads events until the connection closes, the subscription is disposed, or cancellation.</summary>
    public IAsyncEnumerable<QmpEvent> ReadAllAsync(CancellationToken cancellationToken) => _channel.Reader.ReadAllAsync(cancellationToken);

    /// <summary>Waits for the next event named <paramref name="name"/>, skipping others. Throws
    /// <see cref="QmpDisconnectedException"/> if the connection closes first.</summary>
    public async Task<QmpEvent> WaitForAsync(string name, CancellationToken cancellationToken)
    {
        await foreach (QmpEvent evt in _channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            if (evt.Name == name)
            {
                return evt;
            }
        }
        throw new QmpDisconnectedException($"connection closed before event {name}");
    }

    /// <summary>Drops every event delivered so far and returns how many. After a command's reply, that is every event
    /// QEMU sent before the reply (one connection delivers in order), so what follows is news.</summary>
    public int DiscardDelivered()
    {
        int discarded = 0;
        while (_channel.Reader.TryRead(out _))
        {
            discarded++;
        }
        return discarded;
    }

    public void Dispose() => _client.Unsubscribe(_channel);
}
