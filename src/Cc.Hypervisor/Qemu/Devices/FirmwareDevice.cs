namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>A firmware image instead of QEMU's default SeaBIOS; qboot skips the BIOS boot menu and probing.</summary>
public sealed record FirmwareDevice(string Path) : IQemuDevice
{
    public IReadOnlyList<string> Arguments() => ["-bios", Path];
}
