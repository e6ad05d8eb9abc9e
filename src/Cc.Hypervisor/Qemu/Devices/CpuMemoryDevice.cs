namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>vCPUs and guest RAM.</summary>
public sealed record CpuMemoryDevice(int Vcpus, int MemoryMiB) : IQemuDevice
{
    public IReadOnlyList<string> Arguments() =>
        ["-smp", Vcpus.ToString(System.Globalization.CultureInfo.InvariantCulture), "-m", $"{MemoryMiB}M"];
}
