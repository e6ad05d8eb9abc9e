namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>vhost-vsock with a host-unique guest context id (CIDs 0-2 are reserved).</summary>
public sealed record VsockDevice(VirtioBus Bus, uint GuestCid) : IQemuDevice
{
    public IReadOnlyList<string> Arguments() =>
        ["-device", $"{QemuOption.Virtio("vhost-vsock", Bus)},guest-cid={GuestCid.ToString(System.Globalization.CultureInfo.InvariantCulture)}"];
}
