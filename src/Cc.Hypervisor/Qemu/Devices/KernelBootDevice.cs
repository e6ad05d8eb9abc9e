namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>Direct kernel boot. An ELF vmlinux is entered through PVH, a bzImage through the firmware's
/// Linux loader; QEMU decides from the file, so both use the same flags.</summary>
public sealed record KernelBootDevice(string KernelPath, string InitramfsPath, string CommandLine) : IQemuDevice
{
    public IReadOnlyList<string> Arguments() => ["-kernel", KernelPath, "-initrd", InitramfsPath, "-append", CommandLine];
}
