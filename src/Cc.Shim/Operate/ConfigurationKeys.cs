using System.Globalization;
using Cc.Shim.Configuration;

namespace Cc.Shim.Operate;

/// <summary>
/// Every key of configuration.toml with a reader of its effective value: the list `env` prints. A static table, not
/// reflection, so it stays AOT-clean; <c>ConfigurationKeysTests</c> fails when a property of <see cref="ShimConfiguration"/>
/// has no row here (keep it, ShimConfiguration.cs and docs/configuration.md in step).
/// </summary>
public static class ConfigurationKeys
{
    /// <summary>One key: <c>table.key</c> as written in the file, and its value rendered as TOML.</summary>
    public sealed record Key(string Table, string Name, Func<ShimConfiguration, string> Value)
    {
        public string FullName => $"{Table}.{Name}";
    }

    public static IReadOnlyList<Key> All { get; } =
    [
        new("hypervisor", "path", c => Text(c.Hypervisor.Path)),
        new("hypervisor", "kernel", c => Text(c.Hypervisor.Kernel)),
        new("hypervisor", "initrd", c => Text(c.Hypervisor.Initrd)),
        new("hypervisor", "kernel_params", c => Text(c.Hypervisor.KernelParams)),
        new("hypervisor", "memory_mib", c => Number(c.Hypervisor.MemoryMib)),
        new("hypervisor", "vcpus", c => Number(c.Hypervisor.Vcpus)),
        new("hypervisor", "max_memory_mib", c => Number(c.Hypervisor.MaxMemoryMib)),
        new("hypervisor", "max_vcpus", c => Number(c.Hypervisor.MaxVcpus)),
        new("hypervisor", "machine", c => Text(c.Hypervisor.Machine)),
        new("hypervisor", "accel", c => Text(c.Hypervisor.Accel)),
        new("hypervisor", "boot_timeout_seconds", c => Number(c.Hypervisor.BootTimeoutSeconds)),
        new("hypervisor", "stop_grace_seconds", c => Number(c.Hypervisor.StopGraceSeconds)),
        new("hypervisor", "free_page_reporting", c => c.Hypervisor.FreePageReporting ? "true" : "false"),
        new("hypervisor", "tcg_tb_size_mib", c => Number(c.Hypervisor.TcgTbSizeMib)),
        new("agent", "log_level", c => Text(c.Agent.LogLevel)),
        new("agent", "health_check_interval_seconds", c => Number(c.Agent.HealthCheckIntervalSeconds)),
        new("agent", "health_check_timeout_seconds", c => Number(c.Agent.HealthCheckTimeoutSeconds)),
        new("agent", "create_timeout_seconds", c => Number(c.Agent.CreateTimeoutSeconds)),
        new("agent", "start_timeout_seconds", c => Number(c.Agent.StartTimeoutSeconds)),
        new("agent", "kill_timeout_seconds", c => Number(c.Agent.KillTimeoutSeconds)),
        new("agent", "delete_timeout_seconds", c => Number(c.Agent.DeleteTimeoutSeconds)),
        new("agent", "other_timeout_seconds", c => Number(c.Agent.OtherTimeoutSeconds)),
        new("runtime", "run_dir", c => Text(c.Runtime.RunDir)),
        new("runtime", "debug", c => c.Runtime.Debug ? "true" : "false"),
        new("runtime", "shutdown_timeout_seconds", c => Number(c.Runtime.ShutdownTimeoutSeconds)),
        new("runtime", "bootstrap_version", c => Number(c.Runtime.BootstrapVersion)),
        new("runtime", "pids", c => Text(c.Runtime.Pids)),
    ];

    /// <summary>
    /// The keys the daemon reads from the system and defaults files only, never from runtime options
    /// (docs/configuration.md, "Where the file comes from"): it needs them before any Create arrives.
    /// <c>runtime.debug</c> is not one: <c>start</c> reads it from the runtime options and passes <c>-debug</c>.
    /// </summary>
    public static IReadOnlySet<string> DaemonFileOnly { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "runtime.shutdown_timeout_seconds",
    };

    private static string Text(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);
}
