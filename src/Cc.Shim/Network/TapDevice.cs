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
/// /dev/net/tun binds a device to the network namespace of the thread that opens it, so the open happens on a thread
/// of its own that first <c>setns</c>es into the pod's namespace. That thread is a fresh one, never a pool thread,
/// and it ends right after: no other code ever runs in the pod's namespace by accident.
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
        SafeFileHandle? handle = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                handle = CreateHere(netnsPath, name);
            }
            catch (Exception e)
            {
                failure = e;
            }
        })
        { IsBackground = true, Name = "cc-tap-" + name };
        thread.Start();
        thread.Join();
        return failure is not null ? throw failure : handle!;
    }

    // Runs on the dedicated thread only: setns changes the calling thread's namespace for the rest of its life.
    private static unsafe SafeFileHandle CreateHere(string netnsPath, string name)
    {
        var ns = LibC.open(netnsPath, LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
        if (ns < 0)
        {
            throw new IOException($"open network namespace {netnsPath}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
        }
        try
        {
            if (LibC.setns(ns, LibC.CLONE_NEWNET) != 0)
            {
                throw new IOException($"setns {netnsPath}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
            }
        }
        finally
        {
            LibC.close(ns);
        }
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
