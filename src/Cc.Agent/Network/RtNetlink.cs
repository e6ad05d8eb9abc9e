using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using Cc.Agent.Native;

namespace Cc.Agent.Network;

/// <summary>
/// The rtnetlink messages for <see cref="NetworkStep"/>s (linux/netlink.h, rtnetlink.h, if_link.h, if_addr.h), each
/// sent with NLM_F_ACK and answered by the kernel's NLMSG_ERROR (error 0 = done). Numbers are in host byte order
/// (little-endian on the guest's x86_64 and aarch64), addresses in network order.
/// </summary>
/// <remarks>
/// Layouts: nlmsghdr (16) = len u32 @0, type u16 @4, flags u16 @6, seq u32 @8, pid u32 @12. ifinfomsg (16) = family
/// u8 @0, type u16 @2, index i32 @4, flags u32 @8, change u32 @12. ifaddrmsg (8) = family u8, prefixlen u8, flags u8,
/// scope u8, index u32 @4. rtmsg (12) = family, dst_len, src_len, tos, table, protocol, scope, type (u8 each), flags
/// u32 @8. rtattr = len u16, type u16, payload; every part padded to 4 bytes.
/// </remarks>
internal sealed class RtNetlink : IDisposable
{
    private const ushort RTM_NEWLINK = 16;
    private const ushort RTM_NEWADDR = 20;
    private const ushort RTM_NEWROUTE = 24;
    private const ushort NLMSG_ERROR = 2;
    private const ushort NLM_F_REQUEST = 0x1;
    private const ushort NLM_F_ACK = 0x4;
    private const ushort NLM_F_EXCL = 0x200;
    private const ushort NLM_F_CREATE = 0x400;
    private const ushort IFLA_IFNAME = 3;
    private const ushort IFLA_MTU = 4;
    private const ushort IFA_ADDRESS = 1;
    private const ushort IFA_LOCAL = 2;
    private const ushort IFA_BROADCAST = 4;
    private const ushort RTA_DST = 1;
    private const ushort RTA_OIF = 4;
    private const ushort RTA_GATEWAY = 5;
    private const ushort RTA_PREFSRC = 7;
    private const byte AF_UNSPEC = 0;
    private const byte AF_INET = 2;
    private const uint IFF_UP = 0x1;
    private const byte RT_TABLE_MAIN = 254;
    private const byte RTPROT_BOOT = 3;
    private const byte RT_SCOPE_UNIVERSE = 0;
    private const byte RT_SCOPE_LINK = 253;
    private const byte RT_SCOPE_HOST = 254;
    private const byte RTN_UNICAST = 1;
    private const int EEXIST = 17;

    private readonly int _fd;
    private uint _sequence;

    private RtNetlink(int fd) => _fd = fd;

    public static RtNetlink Open()
    {
        var fd = LibC.socket(LibC.AF_NETLINK, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, LibC.NETLINK_ROUTE);
        return fd < 0 ? throw new IOException($"netlink socket: {LibC.ErrorText(LibC.LastError)}") : new RtNetlink(fd);
    }

    /// <summary>Carries out <paramref name="step"/>; an address or route that exists already counts as done.</summary>
    public unsafe void Apply(NetworkStep step)
    {
        var message = Encode(step, ++_sequence);
        fixed (byte* p = message)
        {
            if (LibC.send(_fd, p, (nuint)message.Length, 0) != message.Length)
            {
                throw new IOException($"netlink send ({step}): {LibC.ErrorText(LibC.LastError)}");
            }
        }
        var answer = new byte[8192];
        nint received;
        fixed (byte* p = answer)
        {
            do
            {
                received = LibC.recv(_fd, p, (nuint)answer.Length, 0);
            }
            while (received < 0 && LibC.LastError == LibC.EINTR);
        }
        if (received < 0)
        {
            throw new IOException($"netlink recv ({step}): {LibC.ErrorText(LibC.LastError)}");
        }
        var errno = AckError(answer.AsSpan(0, (int)received), _sequence);
        if (errno != 0 && !(errno == EEXIST && step is AddAddress or AddRoute))
        {
            throw new IOException($"netlink {step}: {LibC.ErrorText(errno)}");
        }
    }

    /// <summary>The errno (positive; 0 = success) of the NLMSG_ERROR answering <paramref name="sequence"/>.</summary>
    internal static int AckError(ReadOnlySpan<byte> answer, uint sequence)
    {
        if (answer.Length < 20 || BinaryPrimitives.ReadUInt16LittleEndian(answer[4..]) != NLMSG_ERROR
            || BinaryPrimitives.ReadUInt32LittleEndian(answer[8..]) != sequence)
        {
            throw new IOException($"netlink: no acknowledgement for request {sequence}");
        }
        return -BinaryPrimitives.ReadInt32LittleEndian(answer[16..]);
    }

    internal static byte[] Encode(NetworkStep step, uint sequence)
    {
        var body = new List<byte>();
        ushort type;
        var flags = (ushort)(NLM_F_REQUEST | NLM_F_ACK);
        switch (step)
        {
            case RenameLink rename:
                type = RTM_NEWLINK;
                IfInfo(body, rename.Index, 0, 0);
                Attribute(body, IFLA_IFNAME, [.. Encoding.UTF8.GetBytes(rename.Name), 0]);
                break;
            case SetLinkMtu mtu:
                type = RTM_NEWLINK;
                IfInfo(body, mtu.Index, 0, 0);
                Attribute(body, IFLA_MTU, U32((uint)mtu.Mtu));
                break;
            case SetLinkUp up:
                type = RTM_NEWLINK;
                IfInfo(body, up.Index, IFF_UP, IFF_UP);
                break;
            case AddAddress address:
                type = RTM_NEWADDR;
                flags |= NLM_F_CREATE | NLM_F_EXCL;
                body.AddRange([AF_INET, (byte)address.PrefixLength, 0, IsLoopback(address.Address) ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE]);
                body.AddRange(U32((uint)address.Index));
                Attribute(body, IFA_LOCAL, address.Address.GetAddressBytes());
                Attribute(body, IFA_ADDRESS, address.Address.GetAddressBytes());
                if (address.PrefixLength < 31)
                {
                    Attribute(body, IFA_BROADCAST, Broadcast(address.Address, address.PrefixLength));
                }
                break;
            case AddRoute route:
                type = RTM_NEWROUTE;
                flags |= NLM_F_CREATE | NLM_F_EXCL;
                body.AddRange([AF_INET, (byte)route.PrefixLength, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT,
                    route.Gateway is null ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE, RTN_UNICAST]);
                body.AddRange(U32(0));
                if (route.PrefixLength > 0)
                {
                    Attribute(body, RTA_DST, route.Destination.GetAddressBytes());
                }
                if (route.Gateway is { } gateway)
                {
                    Attribute(body, RTA_GATEWAY, gateway.GetAddressBytes());
                }
                Attribute(body, RTA_OIF, U32((uint)route.Index));
                if (route.Source is { } source)
                {
                    Attribute(body, RTA_PREFSRC, source.GetAddressBytes());
                }
                break;
            default:
                throw new ArgumentException($"unknown network step {step}", nameof(step));
        }
        var message = new byte[16 + body.Count];
        BinaryPrimitives.WriteUInt32LittleEndian(message, (uint)message.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(4), type);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(6), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(message.AsSpan(8), sequence);
        CollectionsMarshal.AsSpan(body).CopyTo(message.AsSpan(16));
        return message;
    }

    private static void IfInfo(List<byte> body, int index, uint flags, uint change)
    {
        body.AddRange([AF_UNSPEC, 0, 0, 0]);
        body.AddRange(U32((uint)index));
        body.AddRange(U32(flags));
        body.AddRange(U32(change));
    }

    private static void Attribute(List<byte> body, ushort type, byte[] payload)
    {
        var length = 4 + payload.Length;
        body.AddRange([(byte)length, (byte)(length >> 8), (byte)type, (byte)(type >> 8)]);
        body.AddRange(payload);
        while (body.Count % 4 != 0)
        {
            body.Add(0);
        }
    }

    private static byte[] U32(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        return bytes;
    }

    private static bool IsLoopback(IPAddress address) => address.GetAddressBytes()[0] == 127;

    private static byte[] Broadcast(IPAddress address, int prefixLength)
    {
        var value = BinaryPrimitives.ReadUInt32BigEndian(address.GetAddressBytes());
        var host = prefixLength == 0 ? uint.MaxValue : (1u << (32 - prefixLength)) - 1;
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value | host);
        return bytes;
    }

    public void Dispose() => LibC.close(_fd);
}
