using System.Net;
using System.Net.Sockets;

namespace Cc.Shim.Network;

/// <summary>
/// The shim's TCP listener on 127.0.0.1 (an ephemeral port) <em>inside</em> the pod's network namespace, which
/// <see cref="PortForwardRule"/> sends containerd's port-forward dials to. The socket is made on a
/// <see cref="NetnsThread"/>, so it belongs to that namespace for its whole life while the shim accepts on it from any
/// thread. It holds a reference to the namespace: it must be disposed with the pod's network, never left open.
/// </summary>
public sealed class PortForwardListener : IDisposable
{
    private PortForwardListener(Socket socket, string netnsPath)
    {
        Socket = socket;
        NetnsPath = netnsPath;
        Port = ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    public Socket Socket { get; }

    public string NetnsPath { get; }

    /// <summary>The listener's port in the namespace, the one port the rule leaves alone.</summary>
    public int Port { get; }

    /// <summary>Binds and listens in <paramref name="netnsPath"/>; fails when its loopback is down (nothing to bind).</summary>
    public static PortForwardListener Open(string netnsPath) => NetnsThread.Run(netnsPath, "cc-portforward", () =>
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            socket.Listen(64);
            return new PortForwardListener(socket, netnsPath);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    });

    /// <summary>
    /// The port <paramref name="accepted"/> was dialed to (<see cref="OriginalDestination"/>). A connection made to the
    /// listener's own port is not redirected: its destination is that port, which is what it asked for.
    /// </summary>
    public int DestinationPort(Socket accepted)
    {
        Span<byte> sockaddr = stackalloc byte[OriginalDestination.SockaddrInBytes];
        try
        {
            var length = accepted.GetRawSocketOption(OriginalDestination.SolIp, OriginalDestination.SoOriginalDst, sockaddr);
            if (OriginalDestination.TryParsePort(sockaddr[..length], out var port))
            {
                return port;
            }
        }
        catch (SocketException)
        {
            // No conntrack entry (ENOENT): the connection was not redirected.
        }
        return ((IPEndPoint)accepted.LocalEndPoint!).Port;
    }

    public void Dispose() => Socket.Dispose();
}
