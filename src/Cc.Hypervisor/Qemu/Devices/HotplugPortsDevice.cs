using System.Globalization;

namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>
/// Empty PCIe root ports for devices added after QEMU started (q35 only: pcie.0 itself takes no hot-plug, and
/// virtio-mmio none at all). A template VM has them so that each of its clones can get the pod's NICs by hot-plug
/// (docs/templates.md, "Network interfaces"); the guest's pciehp driver (built into the guest kernel) probes what
/// arrives. Port i is <see cref="PortId"/>(i), chassis i + 1, so the (chassis, slot) pairs QEMU requires are unique.
/// </summary>
public sealed record HotplugPortsDevice(int Count) : IQemuDevice
{
    public static string PortId(int index) => string.Create(CultureInfo.InvariantCulture, $"cc-hp{index}");

    public IReadOnlyList<string> Arguments() =>
        [.. Enumerable.Range(0, Count).SelectMany(i => new[]
        {
            "-device", string.Create(CultureInfo.InvariantCulture, $"pcie-root-port,id={PortId(i)},chassis={i + 1}"),
        })];
}
