using System.Runtime.InteropServices;

namespace Cc.Hypervisor.Native;

// The calls the shim's pod network needs (Cc.Shim/Network/TapDevice.cs): entering a network namespace on one thread and creating a
// tap device there. Values from linux/sched.h and linux/if_tun.h (the same on x86_64 and aarch64).
public static partial class LibC
{
    public const int CLONE_NEWNET = 0x40000000;

    /// <summary>_IOW('T', 202, int).</summary>
    public const uint TUNSETIFF = 0x400454ca;

    public const short IFF_TAP = 0x0002;
    public const short IFF_NO_PI = 0x1000;
    public const short IFF_VNET_HDR = 0x4000;

    /// <summary>IFNAMSIZ: an interface name is at most 15 bytes plus its NUL.</summary>
    public const int IFNAMSIZ = 16;

    /// <summary>struct ifreq is 40 bytes on 64-bit Linux: the name, then a union whose first member TUNSETIFF reads as flags.</summary>
    public const int IfReqBytes = 40;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setns(int fd, int nstype);

    [LibraryImport(Lib, SetLastError = true)]
    public static unsafe partial int ioctl(int fd, nuint request, void* argument);
}
