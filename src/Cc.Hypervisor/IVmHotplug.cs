namespace Cc.Hypervisor;

/// <summary>
/// Live resizing of a running VM within the headroom it was started with (<see cref="VmConfig.MaxVcpus"/>,
/// <see cref="VmConfig.MaxMemoryMiB"/>). Each call asks for a total and returns what the VM has afterwards, which is
/// less than asked for when the guest did not release (or take) everything within the call's bound: a shrink is
/// best-effort by nature. Calls are serialised.
/// </summary>
public interface IVmHotplug
{
    int BootVcpus { get; }
    int MaxVcpus { get; }
    int BootMemoryMiB { get; }
    int MaxMemoryMiB { get; }

    /// <summary>
    /// Plugs or unplugs vCPUs until the VM has <paramref name="vcpus"/> (clamped to boot..max). A plugged vCPU is
    /// present at once; the guest must online it (the agent does). Unplugging asks the guest to eject (ACPI) and waits
    /// until it has, up to the bound. Returns the vCPUs the VM has.
    /// </summary>
    Task<int> SetVcpusAsync(int vcpus, CancellationToken cancellationToken);

    /// <summary>
    /// Requests <paramref name="memoryMiB"/> of guest RAM in total (clamped to boot..max) and waits until the guest's
    /// driver has plugged or unplugged it, up to the bound. Returns the RAM the VM has (boot plus plugged).
    /// </summary>
    Task<int> SetMemoryMiBAsync(int memoryMiB, CancellationToken cancellationToken);
}
