using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Network;

/// <summary>
/// Serves the pod's <see cref="PortForwardListener"/>: every connection containerd's PortForward makes in the pod's
/// namespace is accepted, the port it asked for is opened in the guest (<see cref="GuestDialer"/>) and the two are
/// pumped both ways (<see cref="ForwardPump"/>). When the guest refuses (nothing listens on that port in the pod), the
/// host's connection is reset, so containerd's copy fails and the CRI client gets an error, as with runc, where the
/// dial itself is refused. At most <see cref="MaxConnections"/> at once; one more is reset at once, with a warning.
/// Owned by the sandbox's VM session: <see cref="DisposeAsync"/> stops accepting, resets every live connection and
/// waits for their pumps (the listener itself is the pod network's, closed when it is detached).
/// </summary>
public sealed partial class PortForwarder : IAsyncDisposable
{
    /// <summary>Concurrent forwarded connections per pod: each costs two agent calls in flight and two buffers.</summary>
    public const int MaxConnections = 64;

    private readonly PortForwardListener _listener;
    private readonly GuestDialer _dial;
    private readonly ILogger _logger;
    private readonly string _sandboxId;
    private readonly CancellationTokenSource _stop = new();
    // Guards _live and _disposed: a connection is added only while not disposed, so DisposeAsync waits for every pump.
    private readonly Lock _lock = new();
    private readonly HashSet<Task> _live = [];
    private readonly Task _acceptLoop;
    private bool _disposed;
    private long _nextConnection;

    private PortForwarder(PortForwardListener listener, GuestDialer dial, ILogger logger, string sandboxId)
    {
        _listener = listener;
        _dial = dial;
        _logger = logger;
        _sandboxId = sandboxId;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public static PortForwarder Start(PortForwardListener listener, GuestDialer dial, ILogger logger, string sandboxId) =>
        new(listener, dial, logger, sandboxId);

    /// <summary>Connections being forwarded now.</summary>
    public int LiveConnections
    {
        get
        {
            lock (_lock)
            {
                return _live.Count;
            }
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket host;
            try
            {
                host = await _listener.Socket.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                // A connection that died in the backlog (ECONNABORTED) or a transient shortage (EMFILE): go on.
                Log.AcceptFailed(_logger, _sandboxId, e.Message);
                continue;
            }
            host.NoDelay = true;
            lock (_lock)
            {
                if (_disposed || _live.Count >= MaxConnections)
                {
                    Log.Refused(_logger, _sandboxId, _disposed ? "the pod is stopping" : $"{MaxConnections} connections are forwarded already");
                    ForwardPump.Reset(host);
                    continue;
                }
                var id = ++_nextConnection;
                var pump = ForwardAsync(id, host);
                _live.Add(pump);
                _ = pump.ContinueWith(done =>
                {
                    lock (_lock)
                    {
                        _live.Remove(done);
                    }
                }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
    }

    // Never throws: every outcome is logged and ends with the host's socket closed (cleanly or reset).
    private async Task ForwardAsync(long id, Socket host)
    {
        await Task.Yield();
        var port = _listener.DestinationPort(host);
        IGuestConnection guest;
        try
        {
            guest = await _dial(port, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Nothing listens on that port in the guest (or the VM is going): reset, as a refused dial is seen.
            Log.GuestRefused(_logger, _sandboxId, id, port, e.Message);
            ForwardPump.Reset(host);
            return;
        }
        Log.Forwarding(_logger, _sandboxId, id, port);
        var clean = false;
        try
        {
            clean = await ForwardPump.RunAsync(host, guest, _stop.Token).ConfigureAwait(false);
        }
        finally
        {
            host.Dispose();
            try
            {
                await guest.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // The guest's stream is gone with the VM, or the agent already forgot it: nothing is left to close.
                Log.GuestCloseFailed(_logger, _sandboxId, id, e.Message);
            }
            Log.Forwarded(_logger, _sandboxId, id, port, clean ? "closed" : "reset");
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task[] live;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            live = [.. _live];
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        await _acceptLoop.ConfigureAwait(false);
        await Task.WhenAll(live).ConfigureAwait(false);
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 912, Level = LogLevel.Debug,
            Message = "Sandbox {SandboxId}: port forward {Connection} to guest port {Port} open")]
        public static partial void Forwarding(ILogger logger, string sandboxId, long connection, int port);

        [LoggerMessage(EventId = 913, Level = LogLevel.Debug,
            Message = "Sandbox {SandboxId}: port forward {Connection} to guest port {Port} ended ({Outcome})")]
        public static partial void Forwarded(ILogger logger, string sandboxId, long connection, int port, string outcome);

        [LoggerMessage(EventId = 914, Level = LogLevel.Information,
            Message = "Sandbox {SandboxId}: port forward {Connection} to guest port {Port} refused by the guest, reset: {Reason}")]
        public static partial void GuestRefused(ILogger logger, string sandboxId, long connection, int port, string reason);

        [LoggerMessage(EventId = 915, Level = LogLevel.Warning, Message = "Sandbox {SandboxId}: port forward refused: {Reason}")]
        public static partial void Refused(ILogger logger, string sandboxId, string reason);

        [LoggerMessage(EventId = 916, Level = LogLevel.Warning, Message = "Sandbox {SandboxId}: port forward accept failed: {Reason}")]
        public static partial void AcceptFailed(ILogger logger, string sandboxId, string reason);

        [LoggerMessage(EventId = 917, Level = LogLevel.Debug,
            Message = "Sandbox {SandboxId}: port forward {Connection}: closing the guest's end failed: {Reason}")]
        public static partial void GuestCloseFailed(ILogger logger, string sandboxId, long connection, string reason);
    }
}
