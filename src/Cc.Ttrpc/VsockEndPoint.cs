using System.Net;
using System.Net.Sockets;

namespace Cc.Ttrpc;

/// <summary>
/// An AF_VSOCK endpoint. .NET has no vsock support, so this serializes <c>struct sockaddr_vm</c> itself
/// (linux/vm_sockets.h): family u16, reserved u16, port u32, cid u32, 4 zero bytes; 16 bytes, host order.
/// </summary>
public sealed class VsockEndPoint(uint cid, uint port) : EndPoint
{
    internal const int AfVsock = 40;
    private const int SockaddrVmLength = 16;

    /// <summary>The host's context id (VMADDR_CID_HOST).</summary>
    public const uint HostCid = 2;

    public uint Cid { get; } = cid;

    public uint Port { get; } = port;

    public override AddressFamily AddressFamily => (AddressFamily)AfVsock;

    public override SocketAddress Serialize()
    {
        // SocketAddress refuses families it does not know, so start from AF_UNSPEC and write the family ourselves.
        var address = new SocketAddress(AddressFamily.Unspecified, SockaddrVmLength);
        Span<byte> bytes = address.Buffer.Span;
        BitConverter.TryWriteBytes(bytes, (ushort)AfVsock); // 2-3 stay zero (svm_reserved1)
        BitConverter.TryWriteBytes(bytes[4..], Port);
        BitConverter.TryWriteBytes(bytes[8..], Cid);
        return address;
    }

    public override EndPoint Create(SocketAddress socketAddress)
    {
        ReadOnlySpan<byte> bytes = socketAddress.Buffer.Span;
        return new VsockEndPoint(BitConverter.ToUInt32(bytes[8..]), BitConverter.ToUInt32(bytes[4..]));
    }

    public override string ToString() => $"vsock://{Cid}:{Port}";

    public override bool Equals(object? obj) => obj is VsockEndPoint other && other.Cid == Cid && other.Port == Port;

    public override int GetHashCode() => HashCode.Combine(Cid, Port);
}
