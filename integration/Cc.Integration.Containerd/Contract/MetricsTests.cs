using System.Globalization;
using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Containerd.Contract;

/// <summary>
/// The metrics of a sandbox (docs/metrics.md) through the real containerd, the shim binary, QEMU, the guest's agent and
/// cgroups: read with curl from the shim's management socket (as an operator or a Prometheus-style scraper does) and
/// with the <c>metrics</c> command (as kata-monitor does); the host's QEMU CPU and the container's guest CPU move when
/// the container burns CPU, its guest memory and shmem move when it fills /dev/shm, and the socket is gone with the pod.
/// </summary>
[Collection(ContainerdCollection.Name)]
[Trait("Category", "Shim")]
public sealed class MetricsTests(ContainerdFixture fixture)
{
    private static readonly TimeSpan s_budget = TimeSpan.FromMinutes(6);
    private static readonly TimeSpan s_command = TimeSpan.FromSeconds(60);

    /// <summary>Seconds of wall-clock time the burner spins; under TCG on a loaded host it gets a fraction of that as CPU.</summary>
    private const int BurnSeconds = 5;

    /// <summary>The least CPU the burn must add (container cgroup in the guest, and QEMU on the host).</summary>
    private const double MinimumBurnCpuSeconds = 0.5;

    /// <summary>What the container writes into its /dev/shm (a tmpfs of 64 MiB in ctr's default spec).</summary>
    private const int FillMiB = 48;

    private static string MonitorSocket(string id) =>
        Path.Combine(Leftovers.ConfiguredRunDirectory(), PrivateContainerd.Namespace, id, "monitor.sock");

    [Fact]
    public async Task The_metrics_endpoint_shows_cpu_and_memory_moving_when_the_container_burns_cpu_and_fills_shm()
    {
        RuntimeUnderTest.Cc.MissingPrerequisite().ShouldBeNull();
        using var start = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var containerd = await fixture.GetAsync("1.6", start.Token);
        await using var s = new ContainerdSession(containerd, RuntimeUnderTest.Cc, fixture.Images.BusyboxImage, s_budget, _ => { });
        var id = s.NewId("metrics");
        await s.RunDetachedAsync(id, "sleep", "600");
        var socket = MonitorSocket(id);
        File.Exists(socket).ShouldBeTrue(s.LogSinceStart(80));
        var self = $"namespace=\"{PrivateContainerd.Namespace}\",sandbox=\"{id}\"";
        var container = $"container=\"{id}\",{self}";

        var before = await CurlAsync(socket);
        Value(before, "cc_vm_boot_seconds", $"origin=\"cold\",{self}").ShouldBeGreaterThan(0, before);
        Value(before, "cc_vmm_memory_pss_bytes", self).ShouldBeGreaterThan(16 << 20, before);
        Value(before, "cc_container_pids", container).ShouldBeGreaterThanOrEqualTo(1, before);
        var statsCalls = Value(before, "cc_agent_calls", $"code=\"Ok\",method=\"StatsContainer\",{self}");

        // CPU: a shell spinning for a few seconds inside the container (an exec joins the container's cgroup).
        s.ShouldSucceed(await s.CtrAsync("task", "exec", "--exec-id", "burn", id, "sh", "-c",
            $"end=$(( $(date +%s) + {BurnSeconds} )); while [ $(date +%s) -lt $end ]; do :; done"));
        var burnt = await CurlAsync(socket);
        var guestCpu = Value(burnt, "cc_container_cpu_usage_seconds", container) - Value(before, "cc_container_cpu_usage_seconds", container);
        var hostCpu = VmmCpu(burnt, self) - VmmCpu(before, self);
        guestCpu.ShouldBeGreaterThan(MinimumBurnCpuSeconds, $"container CPU grew {guestCpu:0.00} s\n{burnt}");
        hostCpu.ShouldBeGreaterThan(MinimumBurnCpuSeconds, $"QEMU CPU grew {hostCpu:0.00} s\n{burnt}");
        // Each scrape asked the guest for the container's stats once more.
        Value(burnt, "cc_agent_calls", $"code=\"Ok\",method=\"StatsContainer\",{self}").ShouldBeGreaterThan(statsCalls);

        // Memory: a file in the container's /dev/shm is tmpfs memory charged to the container's cgroup.
        s.ShouldSucceed(await s.CtrAsync("task", "exec", "--exec-id", "fill", id,
            "dd", "if=/dev/zero", "of=/dev/shm/fill", "bs=1M", $"count={FillMiB}"));
        var filled = await CurlAsync(socket);
        var grown = Value(filled, "cc_container_memory_usage_bytes", container) - Value(burnt, "cc_container_memory_usage_bytes", container);
        grown.ShouldBeGreaterThan((FillMiB - 8) << 20, $"container memory grew {grown / (1 << 20):0.0} MiB\n{filled}");
        Value(filled, "cc_container_memory_shmem_bytes", container).ShouldBeGreaterThanOrEqualTo(FillMiB << 20, filled);

        // The node-wide command: this sandbox's series, labelled with it, among whatever else runs under the run_dir.
        var node = await ProcessRunner.RunAsync(RepoPaths.ShimBinary,
            ["metrics", "--run-dir", Leftovers.ConfiguredRunDirectory()], s_command, CancellationToken.None);
        node.ExitCode.ShouldBe(0, node.Describe());
        Value(node.Stdout, "cc_container_memory_shmem_bytes", container).ShouldBeGreaterThanOrEqualTo(FillMiB << 20, node.Stdout);
        node.Stdout.Split('\n').Count(l => l.StartsWith("# TYPE cc_vmm_cpu_seconds ", StringComparison.Ordinal)).ShouldBe(1);

        await s.CtrAsync("task", "kill", "-s", "SIGKILL", id);
        await s.WaitForStatusAsync(id, "STOPPED", TimeSpan.FromMinutes(1));
        s.ShouldSucceed(await s.CtrAsync("task", "rm", id));
        s.ShouldSucceed(await s.CtrAsync("container", "rm", id));
        File.Exists(socket).ShouldBeFalse();
        await s.ShouldLeaveNothingAsync(id);
    }

    /// <summary>GET /metrics over the shim's management socket with curl, as an operator types it.</summary>
    private static async Task<string> CurlAsync(string socket)
    {
        var result = await ProcessRunner.RunAsync("curl", ["-sS", "--fail", "--max-time", "30", "--unix-socket", socket,
            "http://localhost/metrics"], s_command, CancellationToken.None);
        result.ExitCode.ShouldBe(0, result.Describe());
        return result.Stdout;
    }

    private static double VmmCpu(string exposition, string self) =>
        Value(exposition, "cc_vmm_cpu_seconds", $"mode=\"user\",{self}") + Value(exposition, "cc_vmm_cpu_seconds", $"mode=\"system\",{self}");

    /// <summary>The value of the sample <c>name{labels}</c>, whatever the order of the labels; fails naming it when absent.</summary>
    private static double Value(string exposition, string name, string labels)
    {
        var wanted = labels.Split(',').ToHashSet();
        foreach (var line in exposition.Split('\n'))
        {
            var brace = line.IndexOf('{');
            var close = line.LastIndexOf('}');
            if (brace > 0 && close > brace && line[..brace] == name
                && line[(brace + 1)..close].Split(',').ToHashSet().SetEquals(wanted))
            {
                return double.Parse(line[(close + 2)..], CultureInfo.InvariantCulture);
            }
        }
        throw new ShouldAssertException($"no sample {name}{{{labels}}} in:\n{exposition}");
    }
}
