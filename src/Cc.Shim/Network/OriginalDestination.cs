using System.Buffers.Binary;

namespace Cc.Shim.Network;

/// <summary>
/// The port a redirected connection was made to, from <c>getsockopt(SOL_IP, SO_ORIGINAL_DST)</c> on the accepted
/// socket: netfilter's conntrack keeps the connection's original destination, before the REDIRECT rewrote it.
/// </summary>
public static class OriginalDestination
{
    /// <summary>SOL_IP (linux/in.h).</summary>
    public const int SolIp = 0;

    /// <summary>SO_ORIGINAL_DST (linux/netfilter_ipv4.h).</summary>
    public const int SoOriginalDst = 80;

    /// <summary>sizeof(struct sockaddr_in).</summary>
    public const int SockaddrInBytes = 16;

    private const ushort AfInet = 2;

    /// <summary>
    /// The port of a <c>struct sockaddr_in</c>: <c>sin_family</c> (2 bytes, host order: AF_INET), <c>sin_port</c>
    /// (2 bytes, network order), <c>sin_addr</c> (4), padding (8). False when it is short, not AF_INET or port 0.
    /// </summary>
    public static bool TryParsePort(ReadOnlySpan<byte> sockaddr, out int port)
    {
        port = 0;
        if (sockaddr.Length < 8 || BitConverter.ToUInt16(sockaddr[..2]) != AfInet)
        {
            return false;
        }
        port = BinaryPrimitives.ReadUInt16BigEndian(sockaddr[2..4]);
        return port != 0;
    }
}
