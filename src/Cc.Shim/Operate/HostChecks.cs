using System.Diagnostics;
using Cc.Hypervisor;
using Cc.Shim.Configuration;

namespace Cc.Shim.Operate;

/// <summary>
/// The facts `containerd-shim-cc-v2 check` reports, one method per fact, each from the real thing: QEMU is run, the
/// kernel and initramfs are read, /dev/kvm runs a test guest, containerd is asked its version. Nothing here changes the
/// host, except a file created and removed at once in the run directory.
/// </summary>
public static class HostChecks
{
    private static readonly TimeSpan s_commandTimeout = TimeSpan.FromSeconds(15);

    /// <summary>Debian's virtiofsd (qemu-system-common in 12, the virtiofsd package later).</summary>
    private static readonly string[] s_virtiofsdPaths = ["/usr/lib/qemu/virtiofsd", "/usr/libexec/virtiofsd"];

    public static IEnumerable<HostFact> All(ShimConfiguration configuration)
    {
        var hypervisor = configuration.Hypervisor;
        yield return Qemu(hypervisor.Path);
        var kernel = Kernel(hypervisor.Kernel, out var release);
        yield return kernel;
        yield return Initramfs(hypervisor.Initrd, release);
        yield return Kvm(hypervisor.Accel, KvmProbe.DefaultDevice);
        yield return VhostVsock();
        yield return SharedFilesystem(hypervisor.Path);
        yield return Containerd();
        yield return Cgroups(File.ReadAllText("/proc/self/mountinfo"));
        yield return RunDirectory(configuration.Runtime.RunDir);
    }

    public static HostFact Qemu(string path)
    {
        if (!File.Exists(path))
        {
            return new("qemu", FactVerdict.Failed, $"{path} does not exist (hypervisor.path; apt-get install qemu-system-x86)");
        }
        var (code, output) = Run(path, "--version");
        return code == 0
            ? new("qemu", FactVerdict.Ok, $"{path}: {output.Split('\n')[0].Trim()}")
            : new("qemu", FactVerdict.Failed, $"{path} --version failed (exit {code}): {output.Trim()}");
    }

    public static HostFact Kernel(string path, out string? release)
    {
        release = null;
        if (!File.Exists(path))
        {
            return new("kernel", FactVerdict.Failed, $"{path} does not exist (hypervisor.kernel; `make guest`, or `make install`)");
        }
        try
        {
            release = GuestImage.KernelRelease(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new("kernel", FactVerdict.Failed, $"{path} is not readable: {e.Message}");
        }
        return release is null
            ? new("kernel", FactVerdict.Failed, $"{path} is neither a bzImage nor a vmlinux with a Linux version banner")
            : new("kernel", FactVerdict.Ok, $"{path}: Linux {release}");
    }

    public static HostFact Initramfs(string path, string? kernelRelease)
    {
        if (!File.Exists(path))
        {
            return new("initramfs", FactVerdict.Failed, $"{path} does not exist (hypervisor.initrd; `make guest`, or `make install`)");
        }
        GuestImage.ModuleReleases modules;
        try
        {
            modules = GuestImage.InitramfsModuleReleases(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or FormatException)
        {
            return new("initramfs", FactVerdict.Failed, $"{path} is not a readable cpio archive: {e.Message}");
        }
        if (modules.Modules == 0)
        {
            return new("initramfs", FactVerdict.Ok, $"{path}: no kernel modules (nothing to match)");
        }
        if (kernelRelease is null)
        {
            // The kernel line has failed already; one cause, one failure.
            return new("initramfs", FactVerdict.Warning, $"{path}: {modules.Modules} modules for {string.Join(", ", modules.Releases)}; not matched: the kernel's release is unknown (see the kernel line)");
        }
        var others = modules.Releases.Where(r => r != kernelRelease).ToList();
        return others.Count == 0 && modules.Releases.Count > 0
            ? new("initramfs", FactVerdict.Ok, $"{path}: {modules.Modules} modules, built for the kernel's {kernelRelease}")
            : new("initramfs", FactVerdict.Failed,
                $"{path}: modules built for {string.Join(", ", modules.Releases.DefaultIfEmpty("an unknown release"))}, "
                + $"but the kernel is {kernelRelease}: the guest cannot load them (rebuild with `make guest`)");
    }

    /// <summary>KVM by running a test guest; <paramref name="accel"/> decides whether its absence is a warning or a failure.</summary>
    public static HostFact Kvm(string accel, string device)
    {
        if (accel == "tcg")
        {
            return new("kvm", FactVerdict.Ok, "not used: hypervisor.accel = tcg");
        }
        var probe = KvmProbe.Probe(device, HostCapabilities.KvmProbeTimeout);
        if (probe.Usable && !HostCapabilities.HasVirtualization(File.ReadAllText("/proc/cpuinfo")))
        {
            // accel=auto needs both (HostCapabilities): report what the shim will do.
            probe = new KvmProbe.Result(false, $"{probe.Detail}, but the CPU flags show neither vmx nor svm");
        }
        if (probe.Usable)
        {
            return new("kvm", FactVerdict.Ok, $"{probe.Detail}; guests run under KVM");
        }
        return accel == "kvm"
            ? new("kvm", FactVerdict.Failed, $"unusable: {probe.Detail}; hypervisor.accel = kvm refuses to start VMs (use auto or tcg)")
            : new("kvm", FactVerdict.Warning, $"unusable: {probe.Detail}; falling back to TCG (software emulation: pods start and run many times slower)");
    }

    public static HostFact VhostVsock() => File.Exists("/dev/vhost-vsock")
        ? new("vhost-vsock", FactVerdict.Ok, "/dev/vhost-vsock present")
        : new("vhost-vsock", FactVerdict.Ok, "/dev/vhost-vsock absent; not needed: the agent channel is virtio-serial (modprobe vhost_vsock for the vsock transport)");

    /// <summary>The pod's shared directory is a 9p share (the default, VmConfig SharedFsKind.NineP); virtio-fs needs virtiofsd.</summary>
    public static HostFact SharedFilesystem(string qemu)
    {
        var virtiofsd = s_virtiofsdPaths.FirstOrDefault(File.Exists);
        var virtiofs = virtiofsd is null ? "no virtiofsd" : $"virtiofsd at {virtiofsd}";
        if (!File.Exists(qemu))
        {
            return new("9p", FactVerdict.Failed, $"cannot ask {qemu} for its devices: it does not exist");
        }
        var (code, output) = Run(qemu, "-machine", "none", "-device", "help");
        return code == 0 && output.Contains("\"virtio-9p-pci\"", StringComparison.Ordinal)
            ? new("9p", FactVerdict.Ok, $"{qemu} has virtio-9p-pci (the pod's shared directory); {virtiofs}")
            : new("9p", FactVerdict.Failed, $"{qemu} lacks virtio-9p-pci, which carries the pod's shared directory ({virtiofs})");
    }

    public static HostFact Containerd()
    {
        var (code, output) = Run("containerd", "--version");
        return code == 0
            ? new("containerd", FactVerdict.Ok, output.Trim())
            : new("containerd", FactVerdict.Failed, code == -1 ? "not found on PATH (apt-get install containerd)" : $"containerd --version failed: {output.Trim()}");
    }

    /// <summary>The cgroup layout from the mount table: v2 (unified), v1, or hybrid.</summary>
    public static HostFact Cgroups(string mountinfo)
    {
        bool v2 = false, v1 = false;
        foreach (var line in mountinfo.Split('\n'))
        {
            // "… - <fstype> <source> <options>": the filesystem type follows the separator.
            var separator = line.IndexOf(" - ", StringComparison.Ordinal);
            if (separator < 0)
            {
                continue;
            }
            var type = line[(separator + 3)..].Split(' ')[0];
            v2 |= type == "cgroup2";
            v1 |= type == "cgroup";
        }
        return (v1, v2) switch
        {
            (false, true) => new("cgroups", FactVerdict.Ok, "v2 (unified)"),
            (true, false) => new("cgroups", FactVerdict.Ok, "v1"),
            (true, true) => new("cgroups", FactVerdict.Ok, "hybrid (v1 controllers, v2 mounted too)"),
            _ => new("cgroups", FactVerdict.Failed, "no cgroup filesystem is mounted"),
        };
    }

    /// <summary>run_dir writable: a file is created and removed in it, or in the nearest existing parent (the shim creates the rest).</summary>
    public static HostFact RunDirectory(string runDir)
    {
        var existing = runDir;
        while (!Directory.Exists(existing))
        {
            existing = Path.GetDirectoryName(existing);
            if (existing is null)
            {
                return new("run directory", FactVerdict.Failed, $"{runDir}: no parent exists");
            }
        }
        var probe = Path.Combine(existing, $".cc-check-{Environment.ProcessId}");
        try
        {
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new("run directory", FactVerdict.Failed, $"{existing} is not writable (runtime.run_dir = {runDir}): {e.Message}");
        }
        return existing == runDir
            ? new("run directory", FactVerdict.Ok, $"{runDir} writable")
            : new("run directory", FactVerdict.Ok, $"{runDir} will be created ({existing} writable)");
    }

    /// <summary>Runs a command, bounded; exit code -1 when it cannot start or does not finish.</summary>
    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        try
        {
            using var process = Process.Start(info)!;
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(s_commandTimeout))
            {
                process.Kill(entireProcessTree: true);
                return (-1, $"did not finish within {s_commandTimeout.TotalSeconds} s");
            }
            return (process.ExitCode, stdout.Result + stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }
}
