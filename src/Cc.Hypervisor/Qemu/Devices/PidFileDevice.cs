namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>
/// QEMU writes its pid here (and removes the file when it exits cleanly). If the driver's process
/// dies without stopping the VM, the file is how a later cleanup finds the orphaned QEMU
/// (<see cref="QemuLeftovers"/>).
/// </summary>
public sealed record PidFileDevice(string Path) : IQemuDevice
{
    public IReadOnlyList<string> Arguments() => ["-pidfile", Path];
}
