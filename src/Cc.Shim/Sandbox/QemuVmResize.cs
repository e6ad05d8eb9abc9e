using Cc.Hypervisor;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Sandbox;

/// <summary>What the guest reports after onlining hot-plugged CPUs: online CPUs and its MemTotal.</summary>
public sealed record GuestCpuReport(int Online, ulong MemTotalKib);

/// <summary>
/// <see cref="IVmResize"/> over the hypervisor's <see cref="IVmHotplug"/> and the agent (docs/hotplug.md). Memory first
/// (virtio-mem: done when the guest driver has plugged or unplugged it), then vCPUs (plugged at once, or ejected by the
/// guest), then the agent onlines what was plugged and says how many CPUs are online: the resize is complete when the
/// guest sees it, not when QEMU accepted it. A guest that onlines fewer than were plugged is logged; the size reported
/// is the VM's (what QEMU has), which is what a later resize plans from.
/// </summary>
public sealed partial class QemuVmResize(IVmHotplug hotplug, Func<int, CancellationToken, Task<GuestCpuReport>> onlineCpus,
    ILogger logger, string sandboxId) : IVmResize
{
    public VmSize Boot { get; } = new(hotplug.BootMemoryMiB, hotplug.BootVcpus);
    public VmSize Max { get; } = new(hotplug.MaxMemoryMiB, hotplug.MaxVcpus);
    public VmSize Current { get; private set; } = new(hotplug.BootMemoryMiB, hotplug.BootVcpus);

    public async Task<VmSize> ResizeAsync(VmSize target, CancellationToken cancellationToken)
    {
        var memory = Current.MemoryMiB;
        if (target.MemoryMiB != Current.MemoryMiB)
        {
            memory = await hotplug.SetMemoryMiBAsync(target.MemoryMiB, cancellationToken).ConfigureAwait(false);
            Current = Current with { MemoryMiB = memory };
        }
        if (target.Vcpus != Current.Vcpus)
        {
            var vcpus = await hotplug.SetVcpusAsync(target.Vcpus, cancellationToken).ConfigureAwait(false);
            Current = Current with { Vcpus = vcpus };
        }
        var report = await onlineCpus(Current.Vcpus, cancellationToken).ConfigureAwait(false);
        Log.GuestSees(logger, sandboxId, report.Online, report.MemTotalKib);
        if (report.Online < Current.Vcpus)
        {
            Log.CpusNotOnline(logger, sandboxId, Current.Vcpus, report.Online);
        }
        if (Current != target)
        {
            Log.ShortOfTarget(logger, sandboxId, target.ToString(), Current.ToString());
        }
        return Current;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 136, Level = LogLevel.Information, Message = "Sandbox {SandboxId}: the guest has {Online} CPUs online and MemTotal {MemTotalKib} KiB")]
        public static partial void GuestSees(ILogger logger, string sandboxId, int online, ulong memTotalKib);

        [LoggerMessage(EventId = 137, Level = LogLevel.Warning, Message = "Sandbox {SandboxId}: the VM has {Vcpus} vCPUs but the guest onlined only {Online}")]
        public static partial void CpusNotOnline(ILogger logger, string sandboxId, int vcpus, int online);

        [LoggerMessage(EventId = 138, Level = LogLevel.Warning, Message = "Sandbox {SandboxId}: the VM reached {Reached}, not {Target}: the guest did not release (or take) all of it in time; it keeps the request and may still")]
        public static partial void ShortOfTarget(ILogger logger, string sandboxId, string target, string reached);
    }
}
