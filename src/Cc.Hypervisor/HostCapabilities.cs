using System.Globalization;

namespace Cc.Hypervisor;

/// <summary>
/// What this host offers the VM, probed once. The command-line builder resolves the Auto choices of
/// <see cref="VmConfig"/> from it; tests pass a fixed instance so golden argv do not depend on the host.
/// </summary>
/// <param name="KvmUsable">The CPU advertises vmx or svm and /dev/kvm runs a test guest (<see cref="KvmProbe"/>).</param>
/// <param name="QbootPath">qboot.rom from qemu-system-data, when installed.</param>
/// <param name="TscKhz">The host TSC's fixed rate, when it has one and /proc/cpuinfo shows it (<see cref="ParseTscKhz"/>);
/// every TCG guest gets it as tsc_early_khz (a microvm guest's TSC calibration hangs some boots without it, floors.md; a
/// q35 guest's calibration under TCG depends on the host's load). KVM tells its guests the rate itself.</param>
/// <param name="VhostVsock">/dev/vhost-vsock exists, so the vsock agent transport can work.</param>
public sealed record HostCapabilities(bool KvmUsable, string? QbootPath, long? TscKhz, bool VhostVsock)
{
    /// <summary>Debian's qemu-system-data installs qboot here.</summary>
    public const string DebianQbootPath = "/usr/share/qemu/qboot.rom";

    /// <summary>Present while a cpufreq driver runs; its "cpu MHz" in /proc/cpuinfo is then the core's current frequency.</summary>
    public const string CpufreqDirectory = "/sys/devices/system/cpu/cpu0/cpufreq";

    /// <summary>
    /// The host's TSC ticks at one rate whatever the CPU's frequency and sleep states (cpuinfo flags constant_tsc and
    /// nonstop_tsc: an invariant TSC). Under TCG the guest's TSC is the host's, so only then may the guest take its TSC
    /// for a reliable clocksource (<see cref="Qemu.KernelCommandLine"/>). Not positional: true unless probed otherwise.
    /// </summary>
    public bool TscInvariant { get; init; } = true;

    /// <summary>How long the KVM probe may take: its one HLT returns in microseconds where KVM works.</summary>
    public static readonly TimeSpan KvmProbeTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Probes the running host. Cheap (a few small file reads, and where /dev/kvm exists one test vCPU run);
    /// callers may cache it.</summary>
    public static HostCapabilities Probe()
    {
        string cpuinfo = TryReadAllText("/proc/cpuinfo");
        return new HostCapabilities(
            KvmUsable: IsKvmUsable(cpuinfo),
            QbootPath: File.Exists(DebianQbootPath) ? DebianQbootPath : null,
            TscKhz: ParseTscKhz(cpuinfo, cpufreqDriver: Directory.Exists(CpufreqDirectory)),
            VhostVsock: File.Exists("/dev/vhost-vsock"))
        {
            TscInvariant = IsTscInvariant(cpuinfo),
        };
    }

    /// <summary>constant_tsc (one rate at every P-state) and nonstop_tsc (it keeps ticking in deep C-states).</summary>
    public static bool IsTscInvariant(string cpuinfo) => HasCpuFlag(cpuinfo, "constant_tsc") && HasCpuFlag(cpuinfo, "nonstop_tsc");

    // Opening /dev/kvm is not enough: some sandboxes expose a /dev/kvm that creates VMs but cannot run a guest (QEMU then
    // hangs in firmware or stops with a KVM emulation failure), so the probe runs one instruction of guest code.
    private static bool IsKvmUsable(string cpuinfo) =>
        HasVirtualization(cpuinfo) && KvmProbe.Probe(KvmProbe.DefaultDevice, KvmProbeTimeout).Usable;

    /// <summary>Whether /proc/cpuinfo advertises hardware virtualization (vmx or svm), which accel=auto also requires.</summary>
    public static bool HasVirtualization(string cpuinfo) => HasCpuFlag(cpuinfo, "vmx") || HasCpuFlag(cpuinfo, "svm");

    internal static bool HasCpuFlag(string cpuinfo, string flag)
    {
        foreach (string line in cpuinfo.Split('\n'))
        {
            if (line.StartsWith("flags", StringComparison.Ordinal) && line.Contains(':'))
            {
                return line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains(flag);
            }
        }
        return false;
    }

    /// <summary>
    /// The host TSC's rate in kHz from /proc/cpuinfo, or null when it has none or cpuinfo does not show it:
    /// <list type="bullet">
    /// <item>A TSC that is not invariant (<see cref="IsTscInvariant"/>) follows the CPU's frequency: no one rate is right.</item>
    /// <item>The first "cpu MHz" when it is the TSC's rate: the kernel prints there the frequency measured with APERF/MPERF
    /// where the CPU has them (flag aperfmperf), else cpufreq's current frequency where a cpufreq driver runs
    /// (<paramref name="cpufreqDriver"/>), and only else cpu_khz, the rate it calibrated or was told (this machine, a VM:
    /// 2096.018 MHz, tsc_known_freq).</item>
    /// <item>Otherwise half the first "bogomips": x86 delays with the TSC, and the kernel sets loops_per_jiffy from tsc_khz
    /// at boot, so bogomips is tsc_khz / 500 (printed to 10 kHz) whatever the current frequency.</item>
    /// </list>
    /// </summary>
    internal static long? ParseTscKhz(string cpuinfo, bool cpufreqDriver = false)
    {
        if (!IsTscInvariant(cpuinfo))
        {
            return null;
        }
        if (!cpufreqDriver && !HasCpuFlag(cpuinfo, "aperfmperf"))
        {
            return FirstNumber(cpuinfo, "cpu MHz") is { } mhz ? (long)(mhz * 1000) : null;
        }
        return FirstNumber(cpuinfo, "bogomips") is { } bogomips ? (long)(bogomips * 500) : null;
    }

    private static decimal? FirstNumber(string cpuinfo, string field)
    {
        foreach (string line in cpuinfo.Split('\n'))
        {
            if (line.StartsWith(field, StringComparison.Ordinal) && line.IndexOf(':') is var colon and > 0
                && decimal.TryParse(line[(colon + 1)..].Trim(), NumberStyles.Number, CultureInfo.InvariantCulture, out decimal value) && value > 0)
            {
                return value;
            }
        }
        return null;
    }

    private static string TryReadAllText(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return "";
        }
    }
}
