namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>
/// virtio-balloon used only for free page reporting (docs/performance.md, "Memory: free pages back to the host"): the
/// guest's virtio_balloon driver reports free blocks of at least 2 MiB (the kernel's page_reporting_order) a few seconds
/// after they were freed, and QEMU discards them, so a page the guest touched once and freed stops costing the host. The
/// balloon itself is never inflated. QEMU discards by madvise for anonymous RAM and by punching a hole in the backing
/// file for file-backed RAM, also when that file is mapped private (QEMU 7.2's ram_block_discard_range): never on a
/// template's clone, whose private mapping's file is the template every other clone reads (VmConfigValidation).
/// </summary>
public sealed record FreePageReportingDevice(VirtioBus Bus) : IQemuDevice
{
    /// <summary>The device's QOM id.</summary>
    public const string DeviceId = "cc-balloon";

    public IReadOnlyList<string> Arguments() =>
        ["-device", $"{QemuOption.Virtio("virtio-balloon", Bus)},id={DeviceId},free-page-reporting=on"];
}
