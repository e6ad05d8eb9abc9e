using System.Diagnostics.Metrics;
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
/// The shim's instruments (System.Diagnostics.Metrics, meter <see cref="MeterName"/>), one set per shim = per sandbox.
/// Agent calls and the boot are recorded as they happen; the VMM's CPU and memory (host /proc) and the containers'
/// cgroup numbers (the agent's Stats, the call Task Stats makes) are sampled by <see cref="RefreshAsync"/> right before
/// each scrape, and the observable instruments report that sample. Every name and its source: docs/metrics.md.
/// </summary>
public sealed class SandboxMetrics : IDisposable
{
    /// <summary>The meter's name; the exporter prefixes every instrument with it (<c>cc_…</c>).</summary>
    public const string MeterName = "cc";

    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _agentCalls;
    private readonly Histogram<double> _agentCallSeconds;

    // Written by RefreshAsync (one scrape at a time: the endpoint serves connections in turn) and read by the observable
    // callbacks that run inside the collection that follows it; replaced whole, never mutated.
    private volatile Sample _sample = Sample.Empty;
    private volatile Boot? _boot;

    public SandboxMetrics(string @namespace, string sandboxId)
    {
        Namespace = @namespace;
        SandboxId = sandboxId;
        _agentCalls = _meter.CreateCounter<long>("agent.calls", description: "Calls the shim made to the guest agent, by method and status code.");
        _agentCallSeconds = _meter.CreateHistogram<double>("agent.call.duration.seconds", unit: "s",
            description: "Time from a call to the guest agent to its answer, by method (long-polls such as WaitProcess last as long as what they wait for).");
        _meter.CreateObservableGauge("vm.boot.seconds", () => _boot is { } boot
                ? [new Measurement<double>(boot.Elapsed.TotalSeconds, new KeyValuePair<string, object?>("origin", boot.Origin))]
                : Array.Empty<Measurement<double>>(),
            unit: "s", description: "Time from the VM's launch to the agent's answer to CreateSandbox; origin cold or template.");
        _meter.CreateObservableCounter("vmm.cpu.seconds", () => Cpu(_sample.Vmm),
            unit: "s", description: "CPU time of the VMM (QEMU) process on the host, by mode (user, system), from /proc/<pid>/stat.");
        _meter.CreateObservableGauge("vmm.memory.rss.bytes", () => Single(_sample.VmmMemory?.Rss),
            unit: "By", description: "Resident memory of the VMM process (Rss of /proc/<pid>/smaps_rollup).");
        _meter.CreateObservableGauge("vmm.memory.pss.bytes", () => Single(_sample.VmmMemory?.Pss),
            unit: "By", description: "Proportional set size of the VMM process (Pss of /proc/<pid>/smaps_rollup).");
        _meter.CreateObservableGauge("shim.memory.pss.bytes", () => Single(_sample.ShimMemory?.Pss),
            unit: "By", description: "Proportional set size of this shim process (Pss of /proc/self/smaps_rollup).");
        _meter.CreateObservableCounter("container.cpu.usage.seconds", () => PerContainer(s => s.CpuUsageUsec / 1e6),
            unit: "s", description: "CPU time of the container's cgroup in the guest (cpu.stat usage_usec).");
        _meter.CreateObservableCounter("container.cpu.user.seconds", () => PerContainer(s => s.CpuUserUsec / 1e6),
            unit: "s", description: "User CPU time of the container's cgroup in the guest (cpu.stat user_usec).");
        _meter.CreateObservableCounter("container.cpu.system.seconds", () => PerContainer(s => s.CpuSystemUsec / 1e6),
            unit: "s", description: "System CPU time of the container's cgroup in the guest (cpu.stat system_usec).");
        _meter.CreateObservableGauge("container.memory.usage.bytes", () => PerContainer(s => s.MemoryUsage),
            unit: "By", description: "Memory of the container's cgroup in the guest (memory.current), page cache and tmpfs included.");
        _meter.CreateObservableGauge("container.memory.limit.bytes", () => PerContainer(s => s.MemoryLimit, unlimited: true),
            unit: "By", description: "Memory limit of the container's cgroup in the guest (memory.max); absent when unlimited.");
        _meter.CreateObservableGauge("container.memory.anon.bytes", () => PerContainer(s => Stat(s.MemoryStat, "anon")),
            unit: "By", description: "Anonymous memory of the container's cgroup in the guest (memory.stat anon).");
        _meter.CreateObservableGauge("container.memory.shmem.bytes", () => PerContainer(s => Stat(s.MemoryStat, "shmem")),
            unit: "By", description: "tmpfs and shared memory of the container's cgroup in the guest (memory.stat shmem).");
        _meter.CreateObservableGauge("container.pids", () => PerContainer(s => s.PidsCurrent),
            unit: "{process}", description: "Processes in the container's cgroup in the guest (pids.current).");
    }

    public string Namespace { get; }

    public string SandboxId { get; }

    /// <summary>The meter whose instruments these are (the exporter listens to this one only).</summary>
    public Meter Meter => _meter;

    /// <summary>A <see cref="TtrpcClientOptions.CallObserver"/> for the agent's connection.</summary>
    public void ObserveAgentCall(string service, string method, StatusCode code, TimeSpan elapsed)
    {
        _agentCalls.Add(1, new KeyValuePair<string, object?>("method", method),
            new KeyValuePair<string, object?>("code", code.ToString()));
        _agentCallSeconds.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("method", method));
    }

    /// <summary>The VM answered CreateSandbox <paramref name="elapsed"/> after its launch began.</summary>
    public void RecordBoot(TimeSpan elapsed, string origin) => _boot = new Boot(elapsed, origin);

    /// <summary>Samples the host's /proc and asks the guest for every running container's stats.</summary>
    public async Task RefreshAsync(ISandboxMetricsSource source, CancellationToken cancellationToken)
    {
        var pid = source.VmPid;
        var containers = await source.RunningContainerStatsAsync(cancellationToken).ConfigureAwait(false);
        _sample = new Sample(ProcFiles.ReadCpu(pid), pid > 0 ? ProcFiles.ReadMemory(pid) : null, ProcFiles.ReadMemory(0), containers);
    }

    public void Dispose() => _meter.Dispose();

    private static IEnumerable<Measurement<double>> Cpu(ProcessCpu? cpu) => cpu is { } c
        ? [new(c.User.TotalSeconds, new KeyValuePair<string, object?>("mode", "user")),
            new(c.System.TotalSeconds, new KeyValuePair<string, object?>("mode", "system"))]
        : [];

    private static IEnumerable<Measurement<double>> Single(long? value) => value is { } v ? [new(v)] : [];

    private IEnumerable<Measurement<double>> PerContainer(Func<ContainerStats, double> value, bool unlimited = false) =>
        _sample.Containers
            .Where(c => !unlimited || c.Stats.MemoryLimit != ulong.MaxValue)
            .Select(c => new Measurement<double>(value(c.Stats), new KeyValuePair<string, object?>("container", c.ContainerId)))
            .ToList();

    private static double Stat(IReadOnlyDictionary<string, ulong> file, string key) => file.TryGetValue(key, out var v) ? v : 0;

    private sealed record Boot(TimeSpan Elapsed, string Origin);

    private sealed record Sample(ProcessCpu? Vmm, ProcessMemory? VmmMemory, ProcessMemory? ShimMemory,
        IReadOnlyList<(string ContainerId, ContainerStats Stats)> Containers)
    {
        public static Sample Empty { get; } = new(null, null, null, []);
    }
}
