namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>
/// A host directory over virtio-9p. security_model=none: QEMU acts with its own (root) credentials and
/// the guest sees the host's owners and modes, which is what container root filesystems need.
/// multidevs=remap: the shim mounts each container's rootfs (an overlay, another device) inside the
/// shared directory, so inode numbers from several host devices meet in one export; remapping keeps them
/// unique in the guest (QEMU otherwise warns and the guest may confuse files of different mounts).
/// </summary>
public sealed record NinePShareDevice(VirtioBus Bus, string HostPath, string MountTag) : IQemuDevice
{
    public IReadOnlyList<string> Arguments() =>
    [
        "-fsdev", $"local,id=shared,path={QemuOption.Escape(HostPath)},security_model=none,multidevs=remap",
        "-device", $"{QemuOption.Virtio("virtio-9p", Bus)},fsdev=shared,mount_tag={QemuOption.Escape(MountTag)}",
    ];
}
