using System.Globalization;

namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>
/// vCPUs and guest RAM, with the hot-plug headroom when there is any: <c>-smp N,maxcpus=M</c> makes M-N empty CPU
/// slots the guest learns of through ACPI; <c>-m S,maxmem=X</c> reserves the address space virtio-mem plugs into
/// (virtio-mem needs no DIMM slots).
/// </summary>
public sealed record CpuMemoryDevice(int Vcpus, int MemoryMiB, int? MaxVcpus = null, int? MaxMemoryMiB = null) : IQemuDevice
{
    public IReadOnlyList<string> Arguments()
    {
        string smp = MaxVcpus is { } maxCpus && maxCpus > Vcpus
            ? string.Create(CultureInfo.InvariantCulture, $"{Vcpus},maxcpus={maxCpus}")
            : Vcpus.ToString(CultureInfo.InvariantCulture);
        string memory = MaxMemoryMiB is { } maxMemory && maxMemory > MemoryMiB
            ? string.Create(CultureInfo.InvariantCulture, $"{MemoryMiB}M,maxmem={maxMemory}M")
            : string.Create(CultureInfo.InvariantCulture, $"{MemoryMiB}M");
        return ["-smp", smp, "-m", memory];
    }
}
