using System.Text.Json;
using System.Text.Json.Serialization;
using Tomlyn.Serialization;

namespace Cc.Shim.Configuration;

/// <summary>
/// configuration.toml, one class per table. Every key and its default is documented in docs/configuration.md; keep the
/// two in step. Keys are snake_case in the file.
/// </summary>
public sealed class ShimConfiguration
{
    public HypervisorSection Hypervisor { get; set; } = new();
    public AgentSection Agent { get; set; } = new();
    public RuntimeSection Runtime { get; set; } = new();
    public FactorySection Factory { get; set; } = new();
}

public sealed class HypervisorSection
{
    public string Path { get; set; } = "/usr/bin/qemu-system-x86_64";
    public string Kernel { get; set; } = "/usr/share/cc/guest/vmlinux";
    public string Initrd { get; set; } = "/usr/share/cc/guest/initramfs.cpio";
    public string KernelParams { get; set; } = "";
    public int MemoryMib { get; set; } = 512;
    public int Vcpus { get; set; } = 1;
    /// <summary>The most guest RAM a running VM may grow to by memory hot-plug (docs/hotplug.md); at or below the boot
    /// size the VM cannot grow. Reserves guest address space only: unplugged memory costs the host nothing.</summary>
    public int MaxMemoryMib { get; set; } = 4096;
    /// <summary>The most vCPUs a running VM may grow to by CPU hot-plug; 0 = the host's CPU count.</summary>
    public int MaxVcpus { get; set; }
    /// <summary><c>q35</c> or <c>microvm</c>.</summary>
    public string Machine { get; set; } = "q35";
    /// <summary><c>auto</c> (kvm when /dev/kvm is usable, else tcg), <c>kvm</c> or <c>tcg</c>.</summary>
    public string Accel { get; set; } = "auto";
    public int BootTimeoutSeconds { get; set; } = 60;
    public int StopGraceSeconds { get; set; } = 5;
    /// <summary>virtio-balloon free page reporting for cold-booted VMs: the guest's freed pages go back to the host
    /// (docs/performance.md). A template and its clones never have it (QEMU 7.2 would punch the template's file).</summary>
    public bool FreePageReporting { get; set; } = true;
    /// <summary>TCG's translation cache (<c>-accel tcg,tb-size=N</c>) of cold-booted VMs and of templates, in MiB; a
    /// clone's is <see cref="FactorySection.CloneTcgTbSizeMib"/>. Ignored under KVM. 64, not 32: 32 saves 35 MiB per
    /// idle cold pod but makes every exec 1.6× slower, its code translated again (docs/performance.md, "Stdio and exec").</summary>
    public int TcgTbSizeMib { get; set; } = 64;
}

public sealed class AgentSection
{
    /// <summary>The guest agent's log level (<c>cc.log=</c> on the kernel command line).</summary>
    public string LogLevel { get; set; } = "info";
    /// <summary>How often the shim asks the agent whether it is alive (Check).</summary>
    public int HealthCheckIntervalSeconds { get; set; } = 10;
    /// <summary>An agent that does not answer a health check within this is dead: its pod's tasks end (docs/shim.md).</summary>
    public int HealthCheckTimeoutSeconds { get; set; } = 30;
    /// <summary>Deadline of CreateContainer in the guest, unless containerd's is earlier (docs/shim.md, "Deadlines").</summary>
    public int CreateTimeoutSeconds { get; set; } = 60;
    /// <summary>Deadline of StartContainer and ExecProcess.</summary>
    public int StartTimeoutSeconds { get; set; } = 30;
    /// <summary>Deadline of SignalProcess.</summary>
    public int KillTimeoutSeconds { get; set; } = 10;
    /// <summary>Deadline of RemoveContainer.</summary>
    public int DeleteTimeoutSeconds { get; set; } = 30;
    /// <summary>Deadline of every other request-scoped call (pause, resume, update, stats, pids, stdin, resize).</summary>
    public int OtherTimeoutSeconds { get; set; } = 10;

    /// <summary>The health-check settings, each at least one second.</summary>
    public Sandbox.SandboxVmHealth Health() => Sandbox.SandboxVmHealth.Default with
    {
        Interval = Seconds(HealthCheckIntervalSeconds),
        Timeout = Seconds(HealthCheckTimeoutSeconds),
    };

    /// <summary>The per-kind deadlines, each at least one second.</summary>
    public Sandbox.AgentDeadlines Deadlines() => new()
    {
        Create = Seconds(CreateTimeoutSeconds),
        Start = Seconds(StartTimeoutSeconds),
        Kill = Seconds(KillTimeoutSeconds),
        Delete = Seconds(DeleteTimeoutSeconds),
        Other = Seconds(OtherTimeoutSeconds),
    };

    private static TimeSpan Seconds(int value) => TimeSpan.FromSeconds(Math.Max(1, value));
}

public sealed class RuntimeSection
{
    /// <summary>Host state per sandbox: <c>&lt;run_dir&gt;/&lt;namespace&gt;/&lt;sandbox id&gt;/</c>.</summary>
    public string RunDir { get; set; } = "/run/cc";
    /// <summary>
    /// Log at Debug even when containerd does not pass <c>-debug</c>. Read by <c>start</c> from the configuration the pod
    /// is started with, which then spawns the daemon with <c>-debug</c> (ShimEntry.DaemonArguments).
    /// </summary>
    public bool Debug { get; set; }
    /// <summary>Upper bound for the daemon's graceful exit (in-flight calls, event queue).</summary>
    public int ShutdownTimeoutSeconds { get; set; } = 5;
    /// <summary>What <c>start</c> prints: 2 = the plain address (every containerd), 3 = the JSON of containerd 2.x.</summary>
    public int BootstrapVersion { get; set; } = 2;
    /// <summary>What Task Pids answers: <c>auto</c>, <c>guest</c> or <c>vmm</c> (<see cref="Sandbox.PidsSource"/>).</summary>
    public string Pids { get; set; } = "auto";
}

/// <summary>VM templates (docs/templates.md).</summary>
public sealed class FactorySection
{
    /// <summary>Start pods by cloning a saved template VM instead of booting one; cold boot when that fails.</summary>
    public bool Template { get; set; }
    /// <summary>Where templates live: their RAM is a file here, so it must be tmpfs.</summary>
    public string Directory { get; set; } = "/run/cc-templates";
    /// <summary>TCG's translation cache of a clone, in MiB: private to each QEMU and most of a cloned idle pod's memory,
    /// while the template keeps <see cref="HypervisorSection.TcgTbSizeMib"/> for its boot (docs/performance.md).</summary>
    public int CloneTcgTbSizeMib { get; set; } = 32;
}

[TomlSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[TomlSerializable(typeof(ShimConfiguration))]
internal sealed partial class ShimConfigurationContext : TomlSerializerContext
{
}
