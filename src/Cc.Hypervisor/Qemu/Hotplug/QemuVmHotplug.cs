using Cc.Hypervisor.Qmp;

namespace Cc.Hypervisor.Qemu.Hotplug;

/// <summary>
/// <see cref="IVmHotplug"/> for a QEMU VM started with headroom: vCPUs through <see cref="VcpuHotplug"/>, memory
/// through <see cref="VirtioMemHotplug"/>. One resize at a time (<see cref="_gate"/>): two overlapping plans over the
/// same slots would plug the same one twice.
/// </summary>
public sealed class QemuVmHotplug : IVmHotplug
{
    /// <summary>How long one resize waits for the guest to take or release what was asked (TCG guests are slow).</summary>
    public static readonly TimeSpan DefaultBound = TimeSpan.FromSeconds(30);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly VcpuHotplug _vcpus;
    private readonly VirtioMemHotplug _memory;

    public QemuVmHotplug(IQmpExecutor qmp, VmConfig config, TimeProvider time, TimeSpan bound)
    {
        _vcpus = new VcpuHotplug(qmp, time, bound);
        _memory = new VirtioMemHotplug(qmp, time, bound);
        BootVcpus = config.Vcpus;
        MaxVcpus = Math.Max(config.Vcpus, config.MaxVcpus ?? config.Vcpus);
        BootMemoryMiB = config.MemoryMiB;
        MaxMemoryMiB = config.MemoryMiB + QemuCommandLine.HotplugMemoryMiB(config);
    }

    /// <summary>True when <paramref name="config"/> leaves room to grow, i.e. the VM gets a hot-plug interface.</summary>
    public static bool HasHeadroom(VmConfig config) =>
        config.MaxVcpus > config.Vcpus || QemuCommandLine.HotplugMemoryMiB(config) > 0;

    public int BootVcpus { get; }
    public int MaxVcpus { get; }
    public int BootMemoryMiB { get; }
    public int MaxMemoryMiB { get; }

    public async Task<int> SetVcpusAsync(int vcpus, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return MaxVcpus == BootVcpus
                ? BootVcpus
                : await _vcpus.SetCountAsync(Math.Clamp(vcpus, BootVcpus, MaxVcpus), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<int> SetMemoryMiBAsync(int memoryMiB, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (MaxMemoryMiB == BootMemoryMiB)
            {
                return BootMemoryMiB;
            }
            long hotplugBytes = (long)(Math.Clamp(memoryMiB, BootMemoryMiB, MaxMemoryMiB) - BootMemoryMiB) << 20;
            long plugged = await _memory.ResizeAsync(hotplugBytes, cancellationToken).ConfigureAwait(false);
            return BootMemoryMiB + (int)(plugged >> 20);
        }
        finally
        {
            _gate.Release();
        }
    }
}
