using System.Globalization;

namespace Cc.Hypervisor;

/// <summary>
/// What this host offers the VM, probed once. The command-line builder resolves the Auto choices of
/// <see cref="VmConfig"/> from it; tests pass a fixed instance so golden argv do not depend on the host.
/// </summary>
/// <param name="KvmUsable">The CPU advertises vmx or svm and /dev/kvm runs a test guest (<see cref="KvmProbe"/>).</param>
/// <param name="QbootPath">qboot.rom from qemu-system-data, when installed.</param>
/// <param name="TscKhz">The host TSC frequency; every guest gets it as tsc_early_khz (a microvm guest's TSC
/// calibration hangs some boots without it, floors.md; a q35 guest's calibration under TCG depends on the host's load).</param>
/// <param name="VhostVsock">/dev/vhost-vsock exists, so the vsock agent transport can work.</param>
public sealed record HostCapabilities(bool KvmUsable, string? QbootPath, long? TscKhz, bool VhostVsock)
{
    /// <summary>Debian's qemu-system-data installs qboot here.</summary>
    public const string DebianQbootPath = "/usr/share/qemu/qboot.rom";

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
            TscKhz: ParseTscKhz(cpuinfo),
            VhostVsock: File.Exists("/dev/vhost-vsock"));
    }

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

    /// <summary>The first "cpu MHz" of /proc/cpuinfo in kHz; on constant-TSC hosts that is the TSC rate.</summary>
    internal static long? ParseTscKhz(string cpuinfo)
    {
        foreach (string line in cpuinfo.Split('\n'))
        {
            if (line.StartsWith("cpu MHz", StringComparison.Ordinal) && line.IndexOf(':') is var colon and > 0
                && decimal.TryParse(line[(colon + 1)..].Trim(), NumberStyles.Number, CultureInfo.InvariantCulture, out decimal mhz) && mhz > 0)
            {
                return (long)(mhz * 1000);
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
