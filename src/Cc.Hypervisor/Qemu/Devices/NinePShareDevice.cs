namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>
/// A host directory over virtio-9p. security_model=none: QEMU acts with its own (root) credentials and
/// the guest sees the host's owners and modes, which is what container root filesystems need.
/// </summary>
public sealed record NinePShareDevice(VirtioBus Bus, string HostPath, string MountTag) : IQemuDevice
{
    public IReadOnlyList<string> Arguments() =>
    [
        "-fsdev", $"local,id=shared,path={QemuOption.Escape(HostPath)},security_model=none",
        "-device", $"{QemuOption.Virtio("virtio-9p", Bus)},fsdev=shared,mount_tag={QemuOption.Escape(MountTag)}",
    ];
}
