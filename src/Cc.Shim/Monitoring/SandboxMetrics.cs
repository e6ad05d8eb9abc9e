using Cc.Shim.Sandbox;
using Cc.Ttrpc;

namespace Cc.Shim.Monitoring;

/// <summary>What the metrics read of the pod at each scrape: the VMM's pid and the guest's numbers of each container.</summary>
public interface ISandboxMetricsSource
{
    /// <summary>The VMM's host pid, 0 while no VM runs.</summary>
    int VmPid { get; }

    Task<IReadOnlyList<(string ContainerId, ContainerStats Stats)>> RunningContainerStatsAsync(CancellationToken cancellationToken);
}

/// <summary>
/// One shim's (= one sandbox's) metrics and their exposition (docs/metrics.md has every name and its source). Agent
/// calls and the boot are recorded as they happen; the VMM's CPU and memory (host /proc) and the containers' cgroup
/// numbers (the agent's Stats, the call Task Stats makes) are sampled by <see cref="RefreshAsync"/> right before each
/// scrape, and <see cref="Write"/> writes that sample, so a deleted container's series is gone from the next scrape.
/// <para>
/// The names, types and labels are those prometheus-net's MeterAdapter gave the same instruments until 2026-12-07
/// (1.47 MB of the shim's executable; docs/metrics.md): cumulative values are typed <c>gauge</c> without
/// a <c>_total</c> suffix, a sample's own labels come in name order before <c>namespace</c> and <c>sandbox</c>.
/// </para>
/// </summary>
public sealed class SandboxMetrics
{
    /// <summary>Every family's name starts with it.</summary>
    public const string Prefix = "cc_";

    private readonly AgentCallTally _agentCalls = new();

    // Written by RefreshAsync (one scrape at a time: the endpoint serves connections in turn) and read by the Write
    // that follows it; replaced whole, never mutated.
    private volatile Sample _sample = Sample.Empty;
    private volatile Boot? _boot;

    public SandboxMetrics(string @namespace, string sandboxId)
    {
        Namespace = @namespace;
        SandboxId = sandboxId;
    }

    public string Namespace { get; }

    public string SandboxId { get; }

    /// <summary>A <see cref="TtrpcClientOptions.CallObserver"/> for the agent's connection.</summary>
    public void ObserveAgentCall(string service, string method, StatusCode code, TimeSpan elapsed) =>
        _agentCalls.Record(method, code.ToString(), elapsed.TotalSeconds);

    /// <summary>The VM answered CreateSandbox <paramref name="elapsed"/> after its launch began.</summary>
    public void RecordBoot(TimeSpan elapsed, string origin) => _boot = new Boot(elapsed, origin);

    /// <summary>Samples the host's /proc and asks the guest for every running container's stats.</summary>
    public async Task RefreshAsync(ISandboxMetricsSource source, CancellationToken cancellationToken)
    {
        var pid = source.VmPid;
        var containers = await source.RunningContainerStatsAsync(cancellationToken).ConfigureAwait(false);
        _sample = new Sample(ProcFiles.ReadCpu(pid), pid > 0 ? ProcFiles.ReadMemory(pid) : null, ProcFiles.ReadMemory(0), containers);
    }

    /// <summary>The exposition of the agent calls so far and of the last <see cref="RefreshAsync"/>'s sample.</summary>
    public string Write()
    {
        var text = new PrometheusTextWriter([new Label("namespace", Namespace), new Label("sandbox", SandboxId)]);
        var families = 0;
        var sample = _sample;

        var (calls, durations) = _agentCalls.Read();
        Family("agent_calls", "Calls the shim made to the guest agent, by method and status code.");
        foreach (var (method, code, count) in calls)
        {
            text.Sample(Prefix + "agent_calls", count, new Label("code", code), new Label("method", method));
        }
        Family("agent_call_duration_seconds",
            "Time from a call to the guest agent to its answer, by method (long-polls such as WaitProcess last as long as what they wait for).",
            "histogram");
        foreach (var (method, histogram) in durations)
        {
            text.Histogram(Prefix + "agent_call_duration_seconds", histogram, new Label("method", method));
        }

        Family("vm_boot_seconds", "Time from the VM's launch to the agent's answer to CreateSandbox; origin cold or template.");
        if (_boot is { } boot)
        {
            text.Sample(Prefix + "vm_boot_seconds", boot.Elapsed.TotalSeconds, new Label("origin", boot.Origin));
        }
        Family("vmm_cpu_seconds", "CPU time of the VMM (QEMU) process on the host, by mode (user, system), from /proc/<pid>/stat.");
        if (sample.Vmm is { } cpu)
        {
            text.Sample(Prefix + "vmm_cpu_seconds", cpu.User.TotalSeconds, new Label("mode", "user"));
            text.Sample(Prefix + "vmm_cpu_seconds", cpu.System.TotalSeconds, new Label("mode", "system"));
        }
        Single("vmm_memory_rss_bytes", "Resident memory of the VMM process (Rss of /proc/<pid>/smaps_rollup).", sample.VmmMemory?.Rss);
        Single("vmm_memory_pss_bytes", "Proportional set size of the VMM process (Pss of /proc/<pid>/smaps_rollup).", sample.VmmMemory?.Pss);
        Single("shim_memory_pss_bytes", "Proportional set size of this shim process (Pss of /proc/self/smaps_rollup).", sample.ShimMemory?.Pss);

        PerContainer("container_cpu_usage_seconds", "CPU time of the container's cgroup in the guest (cpu.stat usage_usec).",
            s => s.CpuUsageUsec / 1e6);
        PerContainer("container_cpu_user_seconds", "User CPU time of the container's cgroup in the guest (cpu.stat user_usec).",
            s => s.CpuUserUsec / 1e6);
        PerContainer("container_cpu_system_seconds", "System CPU time of the container's cgroup in the guest (cpu.stat system_usec).",
            s => s.CpuSystemUsec / 1e6);
        PerContainer("container_memory_usage_bytes",
            "Memory of the container's cgroup in the guest (memory.current), page cache and tmpfs included.", s => s.MemoryUsage);
        PerContainer("container_memory_limit_bytes",
            "Memory limit of the container's cgroup in the guest (memory.max); absent when unlimited.",
            s => s.MemoryLimit == ulong.MaxValue ? null : s.MemoryLimit);
        PerContainer("container_memory_anon_bytes", "Anonymous memory of the container's cgroup in the guest (memory.stat anon).",
            s => Stat(s.MemoryStat, "anon"));
        PerContainer("container_memory_shmem_bytes",
            "tmpfs and shared memory of the container's cgroup in the guest (memory.stat shmem).", s => Stat(s.MemoryStat, "shmem"));
        PerContainer("container_pids", "Processes in the container's cgroup in the guest (pids.current).", s => s.PidsCurrent);

        // prometheus-net's own gauge, kept so that what read it keeps working: the number of cc_ families above.
        text.Family(ConnectedInstruments, "gauge", "Number of instruments that are currently connected to the adapter.");
        text.Sample(ConnectedInstruments, families);
        return text.ToString();

        void Family(string name, string help, string type = "gauge")
        {
            text.Family(Prefix + name, type, help);
            families++;
        }

        void Single(string name, string help, long? value)
        {
            Family(name, help);
            if (value is { } v)
            {
                text.Sample(Prefix + name, v);
            }
        }

        void PerContainer(string name, string help, Func<ContainerStats, double?> value)
        {
            Family(name, help);
            foreach (var (id, stats) in sample.Containers)
            {
                if (value(stats) is { } v)
                {
                    text.Sample(Prefix + name, v, new Label("container", id));
                }
            }
        }
    }

    /// <summary>The family prometheus-net added to every exposition, under its name (docs/metrics.md lists it).</summary>
    public const string ConnectedInstruments = "prometheus_net_meteradapter_instruments_connected";

    private static double Stat(IReadOnlyDictionary<string, ulong> file, string key) => file.TryGetValue(key, out var v) ? v : 0;

    private sealed record Boot(TimeSpan Elapsed, string Origin);

    private sealed record Sample(ProcessCpu? Vmm, ProcessMemory? VmmMemory, ProcessMemory? ShimMemory,
        IReadOnlyList<(string ContainerId, ContainerStats Stats)> Containers)
    {
        public static Sample Empty { get; } = new(null, null, null, []);
    }
}
