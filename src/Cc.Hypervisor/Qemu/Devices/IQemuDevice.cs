namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>One piece of the QEMU command line: a device and whatever backend it needs. Each yields
/// its arguments in a fixed order, so the whole argv is deterministic and golden-testable.</summary>
public interface IQemuDevice
{
    IReadOnlyList<string> Arguments();
}

/// <summary>Which bus virtio devices sit on: PCI on q35, virtio-mmio on microvm. The same device has a
/// <c>-pci</c> and a <c>-device</c> flavour (virtio-serial-pci / virtio-serial-device).</summary>
public enum VirtioBus
{
    Pci,
    Mmio,
}

internal static class QemuOption
{
    /// <summary>The device model name for <paramref name="bus"/>, e.g. virtio-9p → virtio-9p-device on mmio.</summary>
    public static string Virtio(string model, VirtioBus bus) => model + (bus == VirtioBus.Pci ? "-pci" : "-device");

    /// <summary>A value inside a QEMU option list, where ',' separates options and ",," is a literal comma.</summary>
    public static string Escape(string value) => value.Replace(",", ",,", StringComparison.Ordinal);
}
