using System.Runtime.InteropServices;
using System.Text;
using Cc.Hypervisor.Native;
using Microsoft.Win32.SafeHandles;

namespace Cc.Shim.Network;

/// <summary>
/// Creates a tap device inside a network namespace and returns its queue as an open descriptor. The device is not
/// persistent: it lives exactly as long as some process holds a descriptor of it, so once the shim has handed its
/// copy to QEMU and closed its own, the tap ends with QEMU, even when nobody is left to clean up.
/// </summary>
/// <remarks>
/// /dev/net/tun binds a device to the network namespace of the thread that opens it, so the open happens on a
/// <see cref="NetnsThread"/> inside the pod's namespace.
/// </remarks>
public static class TapDevice
{
    /// <summary>IFF_TAP | IFF_NO_PI | IFF_VNET_HDR: ethernet frames, no packet-info prefix, virtio-net headers (QEMU
    /// then negotiates checksum and segmentation offloads with the guest).</summary>
    public const short Flags = LibC.IFF_TAP | LibC.IFF_NO_PI | LibC.IFF_VNET_HDR;

    public static SafeFileHandle Create(string netnsPath, string name)
    {
        if (Encoding.UTF8.GetByteCount(name) is 0 or >= LibC.IFNAMSIZ)
        {
            throw new ArgumentException($"tap name \"{name}\" must be 1..{LibC.IFNAMSIZ - 1} bytes", nameof(name));
        }
        return NetnsThread.Run(netnsPath, "cc-tap-" + name, () => CreateHere(netnsPath, name));
    }

    // Runs on NetnsThread's thread, inside the pod's namespace: /dev/net/tun binds the device to the opener's.
    private static unsafe SafeFileHandle CreateHere(string netnsPath, string name)
    {
        var fd = LibC.open("/dev/net/tun", LibC.O_RDWR | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new IOException($"open /dev/net/tun: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
        }
        var tap = new SafeFileHandle(fd, ownsHandle: true);
        var ifreq = stackalloc byte[LibC.IfReqBytes];
        new Span<byte>(ifreq, LibC.IfReqBytes).Clear();
        Encoding.UTF8.GetBytes(name, new Span<byte>(ifreq, LibC.IFNAMSIZ - 1));
        *(short*)(ifreq + LibC.IFNAMSIZ) = Flags;
        if (LibC.ioctl(fd, LibC.TUNSETIFF, ifreq) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            tap.Dispose();
            throw new IOException($"TUNSETIFF {name} in {netnsPath}: {LibC.ErrorText(errno)}");
        }
        return tap;
    }
}
