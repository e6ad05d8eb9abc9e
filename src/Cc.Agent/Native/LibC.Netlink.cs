using System.Runtime.InteropServices;

namespace Cc.Agent.Native;

// rtnetlink (Network/RtNetlink.cs): a raw AF_NETLINK socket.
// .NET's Socket has no netlink family.
internal static unsafe partial class LibC
{
    public const int AF_NETLINK = 16;
    public const int SOCK_RAW = 3;
    public const int NETLINK_ROUTE = 0;
    public const int SOCK_CLOEXEC = 0x80000;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint send(int socket, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint recv(int socket, byte* buffer, nuint length, int flags);
}
