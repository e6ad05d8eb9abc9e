using System.Globalization;

namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>
/// One guest network interface: a tap backend that QEMU inherits as descriptor <see cref="TapFd"/> (its number in
/// QEMU, not in the shim: the spawner's fd map puts it there) and a virtio-net device with the guest's MAC. With
/// <see cref="VhostFd"/> the data path runs in the host kernel (vhost-net). <see cref="Mtu"/> becomes host_mtu, which
/// the guest driver adopts as its MTU (VIRTIO_NET_F_MTU).
/// </summary>
public sealed record NetworkDevice(VirtioBus Bus, int Index, int TapFd, string MacAddress, int? Mtu = null, int? VhostFd = null) : IQemuDevice
{
    public string NetdevId => string.Create(CultureInfo.InvariantCulture, $"net{Index}");

    public IReadOnlyList<string> Arguments()
    {
        string netdev = string.Create(CultureInfo.InvariantCulture, $"tap,id={NetdevId},fd={TapFd}");
        if (VhostFd is { } vhost)
        {
            netdev += string.Create(CultureInfo.InvariantCulture, $",vhost=on,vhostfd={vhost}");
        }
        string device = $"{QemuOption.Virtio("virtio-net", Bus)},netdev={NetdevId},mac={MacAddress}";
        if (Mtu is { } mtu)
        {
            device += string.Create(CultureInfo.InvariantCulture, $",host_mtu={mtu}");
        }
        return ["-netdev", netdev, "-device", device];
    }
}
