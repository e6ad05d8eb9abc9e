using Cc.Hypervisor;
using Cc.Shim.Configuration;

namespace Cc.Shim.Sandbox;

/// <summary>
/// The pod VM's <see cref="VmConfig"/> from the configuration in force; one place, so that <c>factory init</c> and a
/// pod's launch compute the same template key for the same shape.
/// </summary>
public static class GuestVmConfig
{
    /// <summary>What the kernel command line of a template (and so of its clones) adds: the agent mounts the 9p share
    /// at CreateSandbox, not at boot, because QEMU refuses to save a VM with the share mounted.</summary>
    public const string LateShareParameter = "cc.share=late";

    /// <summary>How many NICs a clone can get: the empty PCIe root ports a q35 template carries for them (docs/templates.md,
    /// "Network interfaces"). A CNI pod has one; a pod with more than this boots cold.</summary>
    public const int TemplateNicPorts = 4;

    public static VmConfig Build(ShimConfiguration configuration, int memoryMiB, int vcpus, string runDirectory,
        string sharedDirectory, bool forTemplate, bool shimDebug = false)
    {
        var settings = configuration.Hypervisor;
        var microvm = settings.Machine == "microvm";
        IEnumerable<string> parameters = settings.KernelParams.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (forTemplate)
        {
            parameters = parameters.Append(LateShareParameter);
        }
        return new VmConfig
        {
            QemuPath = settings.Path,
            Kernel = new KernelConfig
            {
                Path = settings.Kernel,
                InitramfsPath = settings.Initrd,
                AgentLogLevel = AgentLogLevel(configuration.Agent.LogLevel, shimDebug),
                ExtraParameters = [.. parameters],
            },
            MemoryMiB = memoryMiB,
            Vcpus = vcpus,
            // Hot-plug headroom (docs/hotplug.md): q35 only; a boot size at or above the maximum leaves none.
            MaxMemoryMiB = microvm ? null : Math.Max(memoryMiB, settings.MaxMemoryMib),
            MaxVcpus = microvm ? null : Math.Max(vcpus, settings.MaxVcpus > 0 ? settings.MaxVcpus : Environment.ProcessorCount),
            Machine = microvm ? MachineType.Microvm : MachineType.Q35,
            Accel = settings.Accel switch { "kvm" => Accelerator.Kvm, "tcg" => Accelerator.Tcg, _ => Accelerator.Auto },
            TcgTranslationCacheMiB = settings.TcgTbSizeMib,
            // QEMU's monitor appearing is part of the boot: bounded by the boot's bound, not a fixed 10 s that several
            // TCG guests starting at once on a loaded host exceed (docs/reliability.md, "Stress").
            StartTimeout = TimeSpan.FromSeconds(settings.BootTimeoutSeconds),
            // QEMU's own directory is created and removed by the driver; the sandbox directory keeps the console log.
            RunDirectory = Path.Combine(runDirectory, "vm"),
            ConsoleLogPath = Path.Combine(runDirectory, "console.log"),
            Shared = new SharedDirectory { HostPath = sharedDirectory },
            HotplugPorts = forTemplate && settings.Machine != "microvm" ? TemplateNicPorts : 0,
            // A clone maps the template's RAM file private, and QEMU 7.2 discards a reported free page of such RAM by
            // punching it out of the file, under every other clone: templates (and so clones) go without.
            FreePageReporting = settings.FreePageReporting && !forTemplate,
        };
    }

    /// <summary>
    /// A clone's <see cref="VmConfig"/> from its template's <paramref name="shape"/>: the same but for TCG's translation
    /// cache, <c>factory.clone_tcg_tb_size_mib</c>. The cache is not in the saved state nor in the template key, so the
    /// template boots with the larger cache while each clone, which runs only the pod's code, holds a smaller one
    /// (docs/templates.md, "The key").
    /// </summary>
    public static VmConfig ForClone(VmConfig shape, ShimConfiguration configuration) =>
        shape with { TcgTranslationCacheMiB = configuration.Factory.CloneTcgTbSizeMib };

    /// <summary>
    /// The agent's level follows the shim's: a shim logging Debug (containerd's <c>-debug</c>, or <c>runtime.debug</c>)
    /// raises <c>agent.log_level</c> to at least <c>debug</c>; <c>trace</c> stays trace. The level is on the kernel
    /// command line, so it is part of a template's key: a debug daemon makes (and uses) its own template.
    /// </summary>
    public static string AgentLogLevel(string configured, bool shimDebug) =>
        shimDebug && configured is not ("trace" or "debug") ? "debug" : configured;
}
