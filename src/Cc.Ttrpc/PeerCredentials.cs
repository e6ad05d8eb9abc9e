using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Cc.Ttrpc;

/// <summary>The peer process of a unix socket connection as the kernel reports it (SO_PEERCRED).</summary>
public sealed record PeerCredentials(int Pid, uint Uid, uint Gid)
{
    private const int SolSocket = 1;    // SOL_SOCKET on Linux
    private const int SoPeerCred = 17;  // SO_PEERCRED on Linux; struct ucred { pid_t pid; uid_t uid; gid_t gid; }
    private const int UcredLength = 12;

    /// <summary>Reads SO_PEERCRED of a connected unix socket; null on other sockets or platforms.</summary>
    internal static PeerCredentials? TryRead(Socket socket)
    {
        if (!OperatingSystem.IsLinux() || socket.AddressFamily != AddressFamily.Unix)
        {
            return null;
        }

        Span<byte> ucred = stackalloc byte[UcredLength];
        int length = socket.GetRawSocketOption(SolSocket, SoPeerCred, ucred);
        if (length < UcredLength)
        {
            return null;
        }

        return new PeerCredentials(
            MemoryMarshal.Read<int>(ucred),
            MemoryMarshal.Read<uint>(ucred[4..]),
            MemoryMarshal.Read<uint>(ucred[8..]));
    }

    /// <summary>Whether the peer runs with our effective uid and gid (the Go server's UnixSocketRequireSameUser).</summary>
    internal bool IsSameUserAsUs() => Uid == Native.geteuid() && Gid == Native.getegid();

    private static class Native
    {
        // Blittable signatures without pointers: plain DllImport is AOT-safe here.
        [DllImport("libc", ExactSpelling = true)]
        public static extern uint geteuid();

        [DllImport("libc", ExactSpelling = true)]
        public static extern uint getegid();
    }
}
