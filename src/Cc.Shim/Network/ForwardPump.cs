using System.Net.Sockets;

namespace Cc.Shim.Network;

/// <summary>
/// Copies one forwarded connection both ways between the host's socket (containerd's dial, accepted by the
/// <see cref="PortForwardListener"/>) and the guest's connection, as a TCP proxy does: each side's end of stream
/// becomes a half-close of the other, so a client that shuts its sending side still reads the whole answer. The pump
/// ends when both directions have ended. A failure of either side (the guest's connection reset, the host's socket
/// broken) or the pump's cancellation resets the host's socket (SO_LINGER 0), so the client sees a reset rather than
/// an orderly end of a stream that was cut short.
/// </summary>
public static class ForwardPump
{
    /// <summary>The most one guest read asks for; also the host read size.</summary>
    public const int ChunkBytes = 64 * 1024;

    /// <summary>True when both directions ended cleanly; false when the host's socket was reset.</summary>
    public static async Task<bool> RunAsync(Socket host, IGuestConnection guest, CancellationToken cancellationToken)
    {
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var toGuest = HostToGuestAsync(host, guest, failed);
        var toHost = GuestToHostAsync(host, guest, failed);
        var clean = await toGuest.ConfigureAwait(false) & await toHost.ConfigureAwait(false);
        if (!clean)
        {
            Reset(host);
        }
        return clean;
    }

    /// <summary>Closes <paramref name="socket"/> with a TCP reset (SO_LINGER on, 0 s), as a refused connection is seen.</summary>
    public static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed: there is nothing left to reset.
        }
        socket.Dispose();
    }

    private static async Task<bool> HostToGuestAsync(Socket host, IGuestConnection guest, CancellationTokenSource failed)
    {
        var buffer = new byte[ChunkBytes];
        try
        {
            while (true)
            {
                var read = await host.ReceiveAsync(buffer, SocketFlags.None, failed.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    await guest.CloseWriteAsync(failed.Token).ConfigureAwait(false);
                    return true;
                }
                await guest.WriteAsync(buffer.AsMemory(0, read), failed.Token).ConfigureAwait(false);
            }
        }
        catch (Exception)
        {
            // Either side failed or the pump was cancelled: the other direction stops too.
            await failed.CancelAsync().ConfigureAwait(false);
            return false;
        }
    }

    private static async Task<bool> GuestToHostAsync(Socket host, IGuestConnection guest, CancellationTokenSource failed)
    {
        var buffer = new byte[ChunkBytes];
        try
        {
            while (true)
            {
                var read = await guest.ReadAsync(buffer, failed.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    host.Shutdown(SocketShutdown.Send);
                    return true;
                }
                var sent = 0;
                while (sent < read)
                {
                    sent += await host.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None, failed.Token).ConfigureAwait(false);
                }
            }
        }
        catch (Exception)
        {
            await failed.CancelAsync().ConfigureAwait(false);
            return false;
        }
    }
}
