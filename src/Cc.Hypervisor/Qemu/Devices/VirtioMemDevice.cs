using System.Globalization;

namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>
/// The hot-pluggable part of guest RAM: a virtio-mem device over a backend of <see cref="SizeMiB"/>, nothing plugged at
/// boot (requested-size=0). Growing and shrinking is QMP's <c>qom-set requested-size</c>; the guest driver
/// (virtio_mem) plugs or unplugs blocks of <see cref="BlockBytes"/> and onlines them (memhp_default_state). Guest RAM
/// that vhost-user (virtiofsd) must map has to be shared, so with virtio-fs the backend is a shared memfd like the boot
/// RAM's. Untouched backend pages cost the host nothing.
/// </summary>
public sealed record VirtioMemDevice(int SizeMiB, bool Shared) : IQemuDevice
{
    /// <summary>The device's QOM id: QMP addresses it as /machine/peripheral/cc-vmem.</summary>
    public const string DeviceId = "cc-vmem";

    public const string BackendId = "cc-hotmem";

    /// <summary>virtio-mem's block on x86-64 with 4 KiB pages (QEMU's default: the THP size).</summary>
    public const long BlockBytes = 2L << 20;

    public IReadOnlyList<string> Arguments() =>
    [
        "-object", Shared
            ? string.Create(CultureInfo.InvariantCulture, $"memory-backend-memfd,id={BackendId},size={SizeMiB}M,share=on")
            : string.Create(CultureInfo.InvariantCulture, $"memory-backend-ram,id={BackendId},size={SizeMiB}M"),
        "-device", $"virtio-mem-pci,id={DeviceId},memdev={BackendId},requested-size=0",
    ];
}
