using System.Net.Sockets;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Hypervisor.Qmp;

/// <summary>
/// Our QMP client over a unix socket. One connection, many concurrent commands matched to replies by
/// <c>id</c>, events fanned out to subscribers. The connection has one shutdown path
/// (<see cref="Close"/>): the first reason wins, every pending command fails with it, later commands
/// fail with it at once, and every event subscription completes.
/// </summary>
public sealed partial class QmpClient : IAsyncDisposable, IQmpExecutor
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly ILogger _logger;
    private readonly string _name;
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    // _gate guards _pending, _nextId, _subscribers and _closed. Ids only grow, so a late reply to a
    // command whose caller gave up can never be mistaken for the reply to a newer command.
    private readonly Lock _gate = new();
    private readonly Dictionary<long, Pending> _pending = [];
    private readonly List<Channel<QmpEvent>> _subscribers = [];
    private long _nextId;
    private QmpDisconnectedException? _closed;

    private readonly TaskCompletionSource<string> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _readCts = new();
    private Task _readLoop = Task.CompletedTask;
    private byte[] _buffer = new byte[16 * 1024];
    private int _buffered;

    private sealed record Pending(string Command, TaskCompletionSource<JsonElement> Reply);

    private QmpClient(Socket socket, string name, ILogger logger)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _name = name;
        _logger = logger;
    }

    /// <summary>The QEMU version announced in the greeting.</summary>
    public QmpVersion Version { get; private set; } = new(0, 0, 0, "");

    /// <summary>Completes, with the recorded reason, once the connection is closed for any reason. Never faults.</summary>
    public Task<string> Completion => _completion.Task;

    /// <summary>
    /// Connects to QEMU's QMP socket, reads the greeting and leaves capabilities-negotiation mode with
    /// <c>qmp_capabilities</c>. After this, commands may be executed and events are delivered.
    /// </summary>
    public static async Task<QmpClient> ConnectAsync(string socketPath, ILogger? logger, CancellationToken cancellationToken) =>
        (await ConnectAndSubscribeAsync(socketPath, logger, cancellationToken).ConfigureAwait(false)).Client;

    /// <summary>
    /// Like <see cref="ConnectAsync"/>, plus an event subscription that exists before the first event
    /// can arrive (QEMU sends none until capabilities are negotiated), so not even the earliest
    /// SHUTDOWN can slip past it.
    /// </summary>
    public static async Task<(QmpClient Client, QmpEventSubscription Events)> ConnectAndSubscribeAsync(
        string socketPath, ILogger? logger, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        QmpClient? client = null;
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
            client = new QmpClient(socket, socketPath, logger ?? NullLogger.Instance);
            QmpEventSubscription events = client.SubscribeEvents();
            await client.HandshakeAsync(cancellationToken).ConfigureAwait(false);
            return (client, events);
        }
        catch
        {
            if (client is not null)
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                socket.Dispose();
            }
            throw;
        }
    }

    private async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        // The greeting is read before the loop starts: nothing else can arrive before it.
        QmpInbound? greeting = await ReadMessageAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new QmpProtocolException("QMP peer closed the connection before its greeting");
        if (greeting.Greeting is not { } body)
        {
            throw new QmpProtocolException("QMP peer did not start with a greeting ({\"QMP\": ...})");
        }
        QmpVersionTriple v = body.Version?.Qemu ?? new QmpVersionTriple();
        Version = new QmpVersion(v.Major, v.Minor, v.Micro, body.Version?.Package ?? "");
        _readLoop = Task.Run(() => ReadLoopAsync(_readCts.Token), CancellationToken.None);
        await ExecuteAsync("qmp_capabilities", null, cancellationToken).ConfigureAwait(false);
        QmpLog.Connected(_logger, _name, Version);
    }

    /// <summary>
    /// Executes one command and returns its <c>return</c> value. Throws <see cref="QmpErrorException"/>
    /// for an error reply and <see cref="QmpDisconnectedException"/> when the connection is or becomes closed.
    /// Cancelling abandons the wait only: QEMU may still carry the command out.
    /// </summary>
    public async Task<JsonElement> ExecuteAsync(string command, JsonElement? arguments, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        cancellationToken.ThrowIfCancellationRequested();
        var reply = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        long id;
        lock (_gate)
        {
            if (_closed is { } closed)
            {
                throw new QmpDisconnectedException(closed.Reason, closed.InnerException);
            }
            id = ++_nextId;
            _pending.Add(id, new Pending(command, reply));
        }
        try
        {
            byte[] request = JsonSerializer.SerializeToUtf8Bytes(
                new QmpRequest { Execute = command, Arguments = arguments, Id = id }, QmpJsonContext.Default.QmpRequest);
            QmpLog.Execute(_logger, _name, command, id);
            await WriteAsync(request, cancellationToken).ConfigureAwait(false);
            return await reply.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
            {
                _pending.Remove(id);
            }
        }
    }

    private async Task WriteAsync(byte[] request, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // One write per message keeps the object and its terminator together on the wire. The
            // write itself is not cancellable: a message cut in half would corrupt the stream for
            // every later command. Requests are small, so the socket buffer takes them at once.
            byte[] framed = new byte[request.Length + 2];
            request.CopyTo(framed, 0);
            framed[^2] = (byte)'\r';
            framed[^1] = (byte)'\n';
            await _stream.WriteAsync(framed, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            Close("write failed: " + ex.Message, ex);
            QmpDisconnectedException closed = _closed!;
            throw new QmpDisconnectedException(closed.Reason, ex);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Starts receiving events. Only events that arrive after this call are delivered; dispose the
    /// subscription to stop. The subscription's stream ends when the connection closes.
    /// </summary>
    public QmpEventSubscription SubscribeEvents()
    {
        var channel = Channel.CreateUnbounded<QmpEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        lock (_gate)
        {
            if (_closed is null)
            {
                _subscribers.Add(channel);
            }
            else
            {
                channel.Writer.TryComplete();
            }
        }
        return new QmpEventSubscription(this, channel);
    }

    internal void Unsubscribe(Channel<QmpEvent> channel)
    {
        lock (_gate)
        {
            _subscribers.Remove(channel);
        }
        channel.Writer.TryComplete();
    }

    /// <summary>The one shutdown path. Idempotent; the first reason is kept.</summary>
    private void Close(string reason, Exception? cause)
    {
        List<Pending> pending;
        List<Channel<QmpEvent>> subscribers;
        lock (_gate)
        {
            if (_closed is not null)
            {
                return;
            }
            _closed = new QmpDisconnectedException(reason, cause);
            pending = [.. _pending.Values];
            _pending.Clear();
            subscribers = [.. _subscribers];
            _subscribers.Clear();
        }
        QmpLog.Closed(_logger, _name, reason);
        foreach (Pending p in pending)
        {
            p.Reply.TrySetException(new QmpDisconnectedException(reason, cause));
        }
        foreach (Channel<QmpEvent> s in subscribers)
        {
            s.Writer.TryComplete();
        }
        _readCts.Cancel();
        _socket.Dispose();
        _completion.TrySetResult(reason);
    }

    /// <summary>Closes the connection (pending commands fail as disconnected) and waits for the read loop.</summary>
    public async ValueTask DisposeAsync()
    {
        Close("client disposed", null);
        try
        {
            await _readLoop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The loop ends by cancellation on dispose; nothing to report.
        }
        await _stream.DisposeAsync().ConfigureAwait(false);
        _readCts.Dispose();
    }
}
