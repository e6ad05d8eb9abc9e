using Cc.Containerd.Protocol.Events;
using Cc.Ttrpc;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Events;

/// <summary>
/// Forwards to containerd's ttrpc Events service at TTRPC_ADDRESS. The connection is opened on first use and reopened
/// after a failure (containerd may have restarted); the queue above retries.
/// </summary>
public sealed class TtrpcEventSink : IEventSink
{
    private readonly string _address;
    private readonly string _namespace;
    private readonly TtrpcClientOptions _clientOptions;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private TtrpcClient? _client;

    public TtrpcEventSink(string address, string ns, ILoggerFactory loggerFactory)
    {
        _address = address;
        _namespace = ns;
        _clientOptions = new TtrpcClientOptions { LoggerFactory = loggerFactory };
    }

    public async Task SendAsync(string topic, Any @event, DateTimeOffset timestamp, CancellationToken cancellationToken)
    {
        // Only the queue's single consumer calls this; the gate keeps (re)connection simple if that ever changes.
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _client ??= await TtrpcClient.ConnectAsync(_address, _clientOptions, cancellationToken).ConfigureAwait(false);
            try
            {
                await new EventForwarder(_client, _namespace)
                    .ForwardAsync(EventForwarder.CreateRequest(_namespace, topic, @event, timestamp), cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (TtrpcException e) when (e.Code is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
            {
                // The connection is gone or wedged: drop it so the next attempt dials again.
                var broken = _client;
                _client = null;
                await broken.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is { } client)
        {
            await client.DisposeAsync().ConfigureAwait(false);
        }
        _gate.Dispose();
    }
}
