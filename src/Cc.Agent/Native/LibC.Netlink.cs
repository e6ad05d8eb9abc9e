using System.Runtime.InteropServices;

namespace Cc.Agent.Native;

// rtnetlink (Network/RtNetlink.cs): a raw AF_NETLINK socket (socket() and SOCK_CLOEXEC are in LibC.Net.cs).
// .NET's Socket has no netlink family.
internal static unsafe partial class LibC
{
    public const int AF_NETLINK = 16;
    public const int SOCK_RAW = 3;
    public const int NETLINK_ROUTE = 0;

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint send(int socket, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint recv(int socket, byte* buffer, nuint length, int flags);
}
