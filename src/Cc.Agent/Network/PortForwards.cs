using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Cc.Agent.Containers;
using Cc.Agent.Logging;
using Microsoft.Extensions.Logging;

namespace Cc.Agent.Network;

/// <summary>
/// The guest's end of the host's port forwards (CRI PortForward, docs/networking.md): each stream is one TCP connection
/// the agent made to a port on the guest's loopback, in the guest's root network namespace, which is the pod's (every
/// container of a pod runs in it). The host drives it as it drives stdio: a read is a long-poll that takes at most
/// what the host asks for straight from the socket, so the only buffer is the kernel's and a host that stops reading
/// stops the guest's sender in <c>write(2)</c>; a write returns once the kernel took every byte.
/// </summary>
/// <remarks>
/// A stream ends when the host closes it (<see cref="Close"/> without write_only) or the sandbox goes
/// (<see cref="CloseAll"/>, from DestroySandbox). The peer's end of stream is a read of zero bytes, which the host
/// forwards as its own half-close; the host then closes the stream.
/// </remarks>
public sealed class PortForwards(ILogger logger)
{
    /// <summary>Open streams at most: a host that leaks them must not exhaust the guest's descriptors.</summary>
    public const int MaxStreams = 256;

    /// <summary>The largest read the host may ask for, as for stdio.</summary>
    public const int MaxReadBytes = 1024 * 1024;

    private readonly ConcurrentDictionary<ulong, Stream> _streams = new();
    private long _lastId;

    public int Count => _streams.Count;

    /// <summary>
    /// Connects to <paramref name="port"/> on 127.0.0.1, then on ::1 (containerd dials tcp4, then tcp6, in a runc pod's
    /// namespace: a server listening on one family only is reached either way). Refused on both:
    /// FailedPrecondition naming both errors, so the host can reset its client's connection.
    /// </summary>
    public async Task<ulong> OpenAsync(uint port, CancellationToken cancellationToken)
    {
        if (port is 0 or > 65535)
        {
            throw AgentErrorException.Invalid($"port {port} is not a TCP port (1..65535)");
        }
        if (_streams.Count >= MaxStreams)
        {
            throw AgentErrorException.Precondition($"port forward to {port}: {MaxStreams} port forwards are open already");
        }
        var socket = await ConnectAsync((int)port, cancellationToken).ConfigureAwait(false);
        var id = (ulong)Interlocked.Increment(ref _lastId);
        _streams[id] = new Stream(socket);
        AgentLog.PortForwardOpened(logger, id, (int)port, socket.RemoteEndPoint?.ToString() ?? "");
        return id;
    }

    /// <summary>Up to <paramref name="maxBytes"/> bytes the guest's side sent; empty once it sent its end of stream.</summary>
    public async Task<ReadOnlyMemory<byte>> ReadAsync(ulong id, int maxBytes, CancellationToken cancellationToken)
    {
        if (maxBytes is < 1 or > MaxReadBytes)
        {
            throw AgentErrorException.Invalid($"max_bytes {maxBytes} is out of range 1..{MaxReadBytes}");
        }
        var stream = Find(id);
        await stream.ReadLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var buffer = new byte[maxBytes];
            var read = await stream.Socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            return buffer.AsMemory(0, read);
        }
        catch (ObjectDisposedException)
        {
            // Closed by the host (or DestroySandbox) while this read waited: nothing more will come.
            return ReadOnlyMemory<byte>.Empty;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.OperationAborted)
        {
            return ReadOnlyMemory<byte>.Empty;
        }
        catch (SocketException e)
        {
            throw AgentErrorException.Precondition($"port forward {id}: read: {e.Message}");
        }
        finally
        {
            stream.ReadLock.Release();
        }
    }

    /// <summary>Writes all of <paramref name="data"/>, waiting while the guest's side does not read.</summary>
    public async Task<int> WriteAsync(ulong id, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var stream = Find(id);
        await stream.WriteLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var written = 0;
            while (written < data.Length)
            {
                written += await stream.Socket.SendAsync(data[written..], SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
            return written;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            throw AgentErrorException.Precondition($"port forward {id}: write: {e.Message}");
        }
        finally
        {
            stream.WriteLock.Release();
        }
    }

    /// <summary>
    /// <paramref name="writeOnly"/>: shuts the sending side (the guest's side reads end of stream, its answer can still
    /// be read). Otherwise closes the connection and forgets the stream; a read waiting on it ends empty.
    /// </summary>
    public void Close(ulong id, bool writeOnly)
    {
        if (writeOnly)
        {
            var stream = Find(id);
            try
            {
                stream.Socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                throw AgentErrorException.Precondition($"port forward {id}: half-close: {e.Message}");
            }
            return;
        }
        if (!_streams.TryRemove(id, out var closed))
        {
            throw AgentErrorException.NotFound($"port forward {id} is not open");
        }
        closed.Socket.Dispose();
        AgentLog.PortForwardClosed(logger, id);
    }

    /// <summary>Closes every stream (the sandbox goes); returns how many were open.</summary>
    public int CloseAll()
    {
        var closed = 0;
        foreach (var id in _streams.Keys)
        {
            if (_streams.TryRemove(id, out var stream))
            {
                stream.Socket.Dispose();
                closed++;
            }
        }
        return closed;
    }

    private Stream Find(ulong id) =>
        _streams.TryGetValue(id, out var stream) ? stream : throw AgentErrorException.NotFound($"port forward {id} is not open");

    private static async Task<Socket> ConnectAsync(int port, CancellationToken cancellationToken)
    {
        var errors = new List<string>();
        foreach (var address in (IPAddress[])[IPAddress.Loopback, IPAddress.IPv6Loopback])
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, port), cancellationToken).ConfigureAwait(false);
                return socket;
            }
            catch (SocketException e)
            {
                socket.Dispose();
                errors.Add($"{new IPEndPoint(address, port)}: {e.Message}");
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw AgentErrorException.Precondition($"port forward to {port} in the pod's network: {string.Join("; ", errors)}");
    }

    // ReadLock and WriteLock: one read and one write at a time, each whole (the host runs one of each per stream).
    private sealed class Stream(Socket socket)
    {
        public Socket Socket { get; } = socket;
        public SemaphoreSlim ReadLock { get; } = new(1, 1);
        public SemaphoreSlim WriteLock { get; } = new(1, 1);
    }
}
