using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;
using Cc.Ttrpc.Server;
using Cc.Ttrpc.Transports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Ttrpc;

public sealed record TtrpcServerOptions
{
    /// <summary>Drop peers whose effective uid/gid differ from ours (SO_PEERCRED), like Go's UnixSocketRequireSameUser.</summary>
    public bool RequireSameUser { get; init; }

    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>How accepted socket connections move their bytes; null: the stream transport (docs/performance.md).</summary>
    public SocketTransportFactory? SocketTransport { get; init; }
}

/// <summary>
/// A ttrpc server: services registered by name, any number of listeners and stream connections, each
/// request handled concurrently. <see cref="ShutdownAsync"/> is graceful, <see cref="DisposeAsync"/> abortive.
/// </summary>
public sealed class TtrpcServer : IAsyncDisposable
{
    private readonly Dictionary<string, ServiceDefinition> _services = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ServiceDefinition>.AlternateLookup<ReadOnlySpan<char>> _servicesBySpan;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly HashSet<ServerConnection> _connections = [];  // guarded by _lock
    private readonly CancellationTokenSource _stopAccepting = new();
    private volatile bool _frozen;                                  // set by the first connection: no more Register
    private bool _shuttingDown;                                     // guarded by _lock: new connections are refused

    public TtrpcServer(TtrpcServerOptions? options = null)
    {
        Options = options ?? new TtrpcServerOptions();
        _servicesBySpan = _services.GetAlternateLookup<ReadOnlySpan<char>>();
        _logger = Options.LoggerFactory.CreateLogger("Cc.Ttrpc.Server");
    }

    internal TtrpcServerOptions Options { get; }

    /// <summary>Told whenever a connection stops reading because its calls hold too much (ReceiveBudget); for tests.</summary>
    internal Action? ReceivePaused { get; set; }

    /// <summary>Adds a service. Call before serving; names must be unique.</summary>
    public void Register(ServiceDefinition service)
    {
        ArgumentNullException.ThrowIfNull(service);
        lock (_lock)
        {
            if (_frozen)
            {
                throw new InvalidOperationException("ttrpc: services must be registered before the server starts serving");
            }

            if (!_services.TryAdd(service.Name, service))
            {
                throw new ArgumentException($"ttrpc: service {service.Name} is already registered", nameof(service));
            }
        }
    }

    // Read by receive loops without a lock: the map is never written after _frozen is set.
    internal bool TryGetService(ReadOnlySpan<byte> utf8, [NotNullWhen(true)] out ServiceDefinition? service) =>
        NameLookup.TryFind(_services, _servicesBySpan, utf8, out _, out service);

    /// <summary>
    /// Binds <paramref name="address"/> (see <see cref="TtrpcAddress"/>) and accepts connections until
    /// <see cref="ShutdownAsync"/>, <see cref="DisposeAsync"/> or <paramref name="cancellationToken"/> stops it;
    /// then it returns normally, and a socket file it created is removed. Accepted connections live on until
    /// shutdown or dispose.
    /// </summary>
    public async Task ServeAsync(string address, CancellationToken cancellationToken = default)
    {
        var endPoint = TtrpcAddress.Parse(address);
        Socket listener = TtrpcAddress.CreateSocket(endPoint);
        string? path = TtrpcAddress.FilePath(endPoint);
        try
        {
            listener.Bind(endPoint);
            listener.Listen(128);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        try
        {
            await ServeAsync(listener, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            listener.Dispose();
            if (path is not null)
            {
                File.Delete(path);
            }
        }
    }

    /// <summary>
    /// Accepts on a socket that is already bound and listening (the shim's inherited fd) until shutdown,
    /// dispose or <paramref name="cancellationToken"/>; returns normally then. The caller owns the socket.
    /// </summary>
    public async Task ServeAsync(Socket listener, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(listener);
        Freeze();
        string name = listener.LocalEndPoint?.ToString() ?? "listener";
        Log.Listening(_logger, name);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopAccepting.Token);
        while (true)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset)
            {
                continue; // the peer gave up between connect and accept
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException && stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.AcceptFailed(_logger, name, ex);
                throw;
            }

            Accept(socket);
        }
    }

    /// <summary>Serves one connection over any duplex stream; returns when it ends. Cancelling closes it abortively.</summary>
    public Task ServeConnectionAsync(Stream stream, CancellationToken cancellationToken = default) =>
        ServeConnectionAsync(stream, sessionsRestart: false, cancellationToken);

    /// <summary>
    /// Serves one connection over any duplex stream; returns when it ends. Cancelling closes it abortively.
    /// <paramref name="sessionsRestart"/> is for a stream without a connection boundary both ends always see (a
    /// virtio-serial port: a host that hangs up and reconnects quickly, or a VM restored from a snapshot taken before
    /// the guest noticed the hang-up, looks to the guest like one long connection): a Request whose stream id does not
    /// increase then starts a new client session instead of being refused as a reused id (a client never re-uses an id,
    /// so only a new client sends one). The old session's calls still running are abandoned: nothing more of theirs is
    /// sent, so no answer of the old session can be mistaken for one of the new, whose ids start again at 1.
    /// </summary>
    public async Task ServeConnectionAsync(Stream stream, bool sessionsRestart, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Freeze();
        var connection = new ServerConnection(this, new StreamTransport(stream), peer: null, _logger, sessionsRestart);
        if (!TryAdd(connection))
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException("ttrpc: the server is shutting down");
        }

        using var registration = cancellationToken.UnsafeRegister(static c => ((ServerConnection)c!).Abort(), connection);
        connection.Start();
        await connection.Completion.ConfigureAwait(false);
    }

    /// <summary>
    /// Graceful: stop accepting, close idle connections, let in-flight calls finish and close their
    /// connections once idle. When <paramref name="cancellationToken"/> fires first, the remaining connections
    /// are closed abortively (handlers see their token cancelled) and this returns after they have ended.
    /// </summary>
    public async Task ShutdownAsync(CancellationToken cancellationToken = default)
    {
        ServerConnection[] connections = BeginShutdown();
        foreach (var connection in connections)
        {
            connection.CloseWhenIdle();
        }

        Task all = Task.WhenAll(connections.Select(static c => c.Completion));
        try
        {
            await all.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Log.ShutdownAborted(_logger, connections.Count(static c => !c.Completion.IsCompleted));
            foreach (var connection in connections)
            {
                connection.Abort();
            }

            await all.ConfigureAwait(false);
        }
    }

    /// <summary>Abortive close of every listener and connection.</summary>
    public async ValueTask DisposeAsync()
    {
        ServerConnection[] connections = BeginShutdown();
        foreach (var connection in connections)
        {
            connection.Abort();
        }

        await Task.WhenAll(connections.Select(static c => c.Completion)).ConfigureAwait(false);
    }

    internal void OnConnectionClosed(ServerConnection connection)
    {
        lock (_lock)
        {
            _connections.Remove(connection);
        }
    }

    private void Accept(Socket socket)
    {
        PeerCredentials? peer = null;
        try
        {
            peer = PeerCredentials.TryRead(socket);
        }
        catch (SocketException)
        {
            // Not a unix socket after all, or the peer is already gone; RequireSameUser then refuses it.
        }

        if (Options.RequireSameUser && (peer is null || !peer.IsSameUserAsUs()))
        {
            Log.PeerRejected(_logger, peer?.Pid ?? 0, peer?.Uid ?? uint.MaxValue, peer?.Gid ?? uint.MaxValue);
            socket.Dispose();
            return;
        }

        var connection = new ServerConnection(this, SocketTransports.Create(socket, Options.SocketTransport), peer, _logger);
        if (!TryAdd(connection))
        {
            socket.Dispose();
            return;
        }

        connection.Start();
    }

    private void Freeze()
    {
        lock (_lock)
        {
            _frozen = true;
        }
    }

    private bool TryAdd(ServerConnection connection)
    {
        lock (_lock)
        {
            return !_shuttingDown && _connections.Add(connection);
        }
    }

    private ServerConnection[] BeginShutdown()
    {
        ServerConnection[] connections;
        lock (_lock)
        {
            _shuttingDown = true;
            connections = [.. _connections];
        }

        _stopAccepting.Cancel();
        return connections;
    }
}
