using System.Runtime.InteropServices;

namespace Cc.Agent.Native;

// The interface-flag ioctls (netdevice(7)) the agent needs to bring the guest's loopback up.
internal static unsafe partial class LibC
{
    public const int AF_INET = 2;
    public const int SOCK_DGRAM = 2;
    public const int SOCK_CLOEXEC = 0x80000;
    public const ulong SIOCGIFFLAGS = 0x8913;
    public const ulong SIOCSIFFLAGS = 0x8914;
    public const short IFF_UP = 0x1;

    // struct ifreq: IFNAMSIZ (16) bytes of name, then a 24-byte union of which ifr_flags is the first short.
    [StructLayout(LayoutKind.Sequential, Size = 40)]
    public struct IfReqFlags
    {
        public fixed byte Name[16];
        public short Flags;
    }

    [LibraryImport("libc", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int ioctl_ifreq(int fd, ulong request, IfReqFlags* request2);
}
