using System.Globalization;

namespace Cc.Hypervisor.Qemu;

/// <summary>The guest kernel command line of docs/design/guest.md, plus the agent's settings.</summary>
public static class KernelCommandLine
{
    /// <summary>
    /// Fixed parameters, in the contract's order. Why each: the console is the serial port; reboot=k and
    /// panic=-1 turn a guest panic into a reboot that -no-reboot makes a QEMU exit; the rest skip work
    /// that costs boot time under TCG (floors.md): speculative-execution mitigations, TSC and timer
    /// checks, the i8042 probes, extra UARTs and the crypto self-tests. swiotlb=noforce: a VM with hot-plug headroom has
    /// memory possible above 4 GiB, for which the kernel would reserve (and zero: host memory) a 64 MiB bounce buffer at
    /// boot; our devices are all virtio without VIRTIO_F_ACCESS_PLATFORM, which bypass the DMA API and never bounce
    /// (docs/performance.md, "Memory: the guest's own reserve").
    /// </summary>
    public static IReadOnlyList<string> Base { get; } =
    [
        "console=ttyS0", "reboot=k", "panic=-1", "quiet", "mitigations=off", "tsc=reliable", "no_timer_check",
        "i8042.noaux", "i8042.nopnp", "8250.nr_uarts=1", "cryptomgr.notests", "swiotlb=noforce", "rdinit=/init",
    ];

    /// <summary>
    /// The command line for <paramref name="config"/> on <paramref name="host"/>. Under TCG every machine type gets the
    /// host's TSC rate as tsc_early_khz when it is known (docs/reliability.md, "Time in the guest"): the guest's TSC is the
    /// host's (QEMU answers RDTSC with the host's counter), so the host's rate is the right one, and the guest then
    /// skips its own calibration, which under TCG measures the TSC against emulated PIT/HPET/PM-timer reads whose cost
    /// varies with the host's load. tsc=reliable turns off the clocksource watchdog, so a calibration that went wrong
    /// would never be corrected; it is dropped under TCG when the host's TSC is not invariant (its rate, the guest's,
    /// follows the host CPU's frequency), so that the guest's watchdog can catch the drift against the HPET and leave the
    /// TSC. Under KVM the guest gets the TSC rate from KVM (kvm-clock, which QEMU offers with -cpu host) and a
    /// tsc_early_khz would override it.
    /// </summary>
    public static string Build(VmConfig config, HostCapabilities host)
    {
        List<string> parameters = [.. Base];
        if (QemuCommandLine.ResolveAccel(config.Accel, host) == Accelerator.Tcg)
        {
            if (!host.TscInvariant)
            {
                parameters.Remove("tsc=reliable");
            }
            else if (host.TscKhz is { } khz)
            {
                parameters.Add(string.Create(CultureInfo.InvariantCulture, $"tsc_early_khz={khz}"));
            }
        }
        if (QemuCommandLine.HotplugMemoryMiB(config) > 0)
        {
            // Hot-plugged memory is onlined by the kernel as virtio-mem plugs it (no udev in the guest); auto-movable
            // puts as much of it in ZONE_MOVABLE as the kernel's own memory allows, so that a shrink can unplug it.
            parameters.Add("memhp_default_state=online");
            parameters.Add("memory_hotplug.online_policy=auto-movable");
        }
        parameters.Add("cc.log=" + config.Kernel.AgentLogLevel);
        switch (config.Agent)
        {
            case VirtioSerialTransport serial:
                parameters.Add("cc.port=" + serial.PortName);
                break;
            case VsockTransport vsock:
                parameters.Add(string.Create(CultureInfo.InvariantCulture, $"cc.vsock={vsock.Port}"));
                break;
        }
        parameters.AddRange(config.Kernel.ExtraParameters);
        return string.Join(' ', parameters);
    }
}
