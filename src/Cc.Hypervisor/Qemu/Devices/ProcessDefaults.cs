namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>
/// Flags that make QEMU start from nothing and never outlive the guest: no default devices, no
/// config files, no display, and a guest reboot (including the panic=-1 reboot) becomes an exit.
/// </summary>
public sealed record ProcessDefaults(string Name) : IQemuDevice
{
    public IReadOnlyList<string> Arguments() =>
        ["-name", QemuOption.Escape(Name), "-nodefaults", "-no-user-config", "-nographic", "-no-reboot"];
}
