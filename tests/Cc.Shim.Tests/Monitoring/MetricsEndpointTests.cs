using System.Net.Sockets;
using Cc.Shim.Monitoring;
using Cc.Shim.Operate;
using Cc.Shim.Sandbox;
using Cc.TestKit;
using Cc.Ttrpc;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Shim.Tests.Monitoring;

/// <summary>
/// One sandbox's exposition (its metrics → Prometheus text), its HTTP endpoint on a real unix socket, and the
/// node-wide scrape of the `metrics` command over such sockets, with a dead one among them. The real shim, QEMU and
/// guest are in the Containerd integration tests (MetricsTests).
/// </summary>
public sealed class MetricsEndpointTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cc-metrics-").FullName;
    private readonly List<IAsyncDisposable> _servers = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }
        Directory.Delete(_dir, recursive: true);
    }

    private sealed class FakeSource : ISandboxMetricsSource
    {
        public int VmPid { get; set; } = Environment.ProcessId;

        public List<(string, ContainerStats)> Containers { get; } = [];

        public Task<IReadOnlyList<(string ContainerId, ContainerStats Stats)>> RunningContainerStatsAsync(CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<(string, ContainerStats)>>(Containers.ToList());
    }

    private static ContainerStats Stats(ulong cpuUsec, ulong memory, ulong limit = ulong.MaxValue) =>
        new(cpuUsec, cpuUsec / 2, cpuUsec / 2, memory, limit, 2, ulong.MaxValue)
        {
            MemoryStat = new Dictionary<string, ulong> { ["anon"] = 4096, ["shmem"] = 8192 },
        };

    private static async Task<string> ExportAsync(MetricsExporter exporter)
    {
        using var buffer = new MemoryStream();
        await exporter.ExportAsync(buffer, CancellationToken.None).WithTimeout();
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The value of the one sample of <paramref name="series"/> (<c>name{a="1",b="2"}</c>), whatever the order of its labels.</summary>
    private static double Value(string exposition, string series)
    {
        var (name, labels) = Parse(series);
        var line = exposition.Split('\n').SingleOrDefault(l => !l.StartsWith('#') && l.Contains(' ')
                       && Parse(l[..l.LastIndexOf(' ')]) is var (n, ls) && n == name && ls.SetEquals(labels))
                   ?? throw new ShouldAssertException($"no series {series} in:\n{exposition}");
        return double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static (string Name, HashSet<string> Labels) Parse(string series)
    {
        var brace = series.IndexOf('{');
        return brace < 0
            ? (series, [])
            : (series[..brace], series[(brace + 1)..^1].Split(',').ToHashSet());
    }

    [Fact]
    public async Task The_exposition_labels_every_series_with_the_sandbox_and_follows_the_containers_numbers()
    {
        var metrics = new SandboxMetrics("k8s.io", "sb1");
        var source = new FakeSource();
        source.Containers.Add(("c1", Stats(1_500_000, 10 << 20)));
        var exporter = new MetricsExporter(metrics, source);
        metrics.RecordBoot(TimeSpan.FromSeconds(4.25), "cold");
        metrics.ObserveAgentCall("cc.agent.v1.Agent", "StatsContainer", StatusCode.Ok, TimeSpan.FromMilliseconds(3));
        metrics.ObserveAgentCall("cc.agent.v1.Agent", "StatsContainer", StatusCode.Ok, TimeSpan.FromMilliseconds(5));
        metrics.ObserveAgentCall("cc.agent.v1.Agent", "Check", StatusCode.DeadlineExceeded, TimeSpan.FromSeconds(1));

        var first = await ExportAsync(exporter);

        Value(first, """cc_container_cpu_usage_seconds{namespace="k8s.io",sandbox="sb1",container="c1"}""").ShouldBe(1.5);
        Value(first, """cc_container_memory_usage_bytes{namespace="k8s.io",sandbox="sb1",container="c1"}""").ShouldBe(10 << 20);
        Value(first, """cc_container_memory_shmem_bytes{namespace="k8s.io",sandbox="sb1",container="c1"}""").ShouldBe(8192);
        first.ShouldNotContain("cc_container_memory_limit_bytes{", customMessage: "an unlimited cgroup has no limit series");
        Value(first, """cc_vm_boot_seconds{namespace="k8s.io",sandbox="sb1",origin="cold"}""").ShouldBe(4.25);
        Value(first, """cc_agent_calls{namespace="k8s.io",sandbox="sb1",code="Ok",method="StatsContainer"}""").ShouldBe(2);
        Value(first, """cc_agent_calls{namespace="k8s.io",sandbox="sb1",code="DeadlineExceeded",method="Check"}""").ShouldBe(1);
        Value(first, """cc_agent_call_duration_seconds_count{namespace="k8s.io",sandbox="sb1",method="StatsContainer"}""").ShouldBe(2);
        Value(first, """cc_agent_call_duration_seconds_bucket{namespace="k8s.io",sandbox="sb1",method="StatsContainer",le="0.004"}""").ShouldBe(1);
        Value(first, """cc_vmm_memory_pss_bytes{namespace="k8s.io",sandbox="sb1"}""").ShouldBeGreaterThan(0);
        Value(first, """cc_vmm_cpu_seconds{namespace="k8s.io",sandbox="sb1",mode="user"}""").ShouldBeGreaterThan(0);
        first.ShouldContain("# TYPE cc_agent_call_duration_seconds histogram");

        source.Containers[0] = ("c1", Stats(2_750_000, 74 << 20, limit: 512 << 20));
        var second = await ExportAsync(exporter);

        Value(second, """cc_container_cpu_usage_seconds{namespace="k8s.io",sandbox="sb1",container="c1"}""").ShouldBe(2.75);
        Value(second, """cc_container_memory_usage_bytes{namespace="k8s.io",sandbox="sb1",container="c1"}""").ShouldBe(74 << 20);
        Value(second, """cc_container_memory_limit_bytes{namespace="k8s.io",sandbox="sb1",container="c1"}""").ShouldBe(512 << 20);
    }

    [Fact]
    public async Task Every_documented_family_has_one_help_and_one_type_line_and_the_counters_stay_typed_gauge()
    {
        var metrics = new SandboxMetrics("k8s.io", "sb1");
        var text = await ExportAsync(new MetricsExporter(metrics, new FakeSource()));

        string[] documented = ["cc_agent_calls", "cc_agent_call_duration_seconds", "cc_vm_boot_seconds", "cc_vmm_cpu_seconds",
            "cc_vmm_memory_rss_bytes", "cc_vmm_memory_pss_bytes", "cc_shim_memory_pss_bytes", "cc_container_cpu_usage_seconds",
            "cc_container_cpu_user_seconds", "cc_container_cpu_system_seconds", "cc_container_memory_usage_bytes",
            "cc_container_memory_limit_bytes", "cc_container_memory_anon_bytes", "cc_container_memory_shmem_bytes",
            "cc_container_pids", SandboxMetrics.ConnectedInstruments];
        var lines = text.Split('\n');
        lines.Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l.Split(' ')[2]).ShouldBe(documented, ignoreOrder: true);
        lines.Count(l => l.StartsWith("# HELP ", StringComparison.Ordinal)).ShouldBe(documented.Length);
        lines.Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal) && !l.EndsWith(" gauge", StringComparison.Ordinal))
            .ShouldBe(["# TYPE cc_agent_call_duration_seconds histogram"]);
        Value(text, """prometheus_net_meteradapter_instruments_connected{namespace="k8s.io",sandbox="sb1"}""").ShouldBe(documented.Length - 1);
    }

    [Fact]
    public async Task Without_a_vm_there_are_no_vmm_series_but_the_shims_own_memory_is_there()
    {
        var metrics = new SandboxMetrics("default", "sb2");
        var exporter = new MetricsExporter(metrics, new FakeSource { VmPid = 0 });

        var text = await ExportAsync(exporter);

        text.ShouldNotContain("cc_vmm_cpu_seconds{");
        text.ShouldNotContain("cc_vmm_memory_pss_bytes{");
        Value(text, """cc_shim_memory_pss_bytes{namespace="default",sandbox="sb2"}""").ShouldBeGreaterThan(0);
    }

    private string Serve(string name, Func<Stream, CancellationToken, Task> export)
    {
        var path = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(4);
        var server = new MetricsHttpServer(listener, export, NullLogger.Instance);
        server.Start();
        _servers.Add(server);
        return path;
    }

    private static Func<Stream, CancellationToken, Task> Text(string text) =>
        (to, token) => to.WriteAsync(System.Text.Encoding.UTF8.GetBytes(text), token).AsTask();

    private static async Task<string> RawAsync(string path, string request)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path)).WithTimeout();
        await using var stream = new NetworkStream(socket);
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(request)).AsTask().WithTimeout();
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync().WithTimeout();
    }

    [Fact]
    public async Task The_endpoint_answers_GET_metrics_with_the_prometheus_text_type_and_refuses_everything_else()
    {
        var path = Serve("one.sock", Text("cc_x 1\n"));

        var ok = await RawAsync(path, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        ok.ShouldStartWith("HTTP/1.1 200 OK\r\n");
        ok.ShouldContain("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n");
        ok.ShouldContain("Content-Length: 7\r\n");
        ok.ShouldEndWith("\r\n\r\ncc_x 1\n");

        (await RawAsync(path, "GET /other HTTP/1.1\r\n\r\n")).ShouldStartWith("HTTP/1.1 404 Not Found\r\n");
        (await RawAsync(path, "POST /metrics HTTP/1.1\r\n\r\n")).ShouldStartWith("HTTP/1.1 405 Method Not Allowed\r\n");
        (await RawAsync(path, "garbage\r\n\r\n")).ShouldStartWith("HTTP/1.1 400 Bad Request\r\n");
        (await MetricsScraper.GetAsync(new UnixDomainSocketEndPoint(path), CancellationToken.None).WithTimeout()).ShouldBe("cc_x 1\n");
    }

    [Fact]
    public async Task A_failing_exposition_is_a_500_naming_why_and_the_endpoint_keeps_serving()
    {
        var calls = 0;
        var path = Serve("flaky.sock", (to, token) => ++calls == 1
            ? throw new InvalidOperationException("the guest said no")
            : Text("cc_x 2\n")(to, token));

        var failed = await RawAsync(path, "GET /metrics HTTP/1.1\r\n\r\n");
        failed.ShouldStartWith("HTTP/1.1 500 Internal Server Error\r\n");
        failed.ShouldContain("the guest said no");
        (await MetricsScraper.GetAsync(new UnixDomainSocketEndPoint(path), CancellationToken.None).WithTimeout()).ShouldBe("cc_x 2\n");
    }

    [Fact]
    public async Task The_metrics_command_merges_every_sandbox_under_the_run_dir_and_skips_a_dead_socket_with_a_note()
    {
        var runDir = Path.Combine(_dir, "run");
        Serve("run/k8s.io/podA/monitor.sock", Text("# TYPE cc_vmm_memory_pss_bytes gauge\ncc_vmm_memory_pss_bytes{namespace=\"k8s.io\",sandbox=\"podA\"} 1\n"));
        Serve("run/default/podB/monitor.sock", Text("# TYPE cc_vmm_memory_pss_bytes gauge\ncc_vmm_memory_pss_bytes{namespace=\"default\",sandbox=\"podB\"} 2\n"));
        var dead = Path.Combine(runDir, "k8s.io", "podC", MetricsScraper.SocketName);
        Directory.CreateDirectory(Path.GetDirectoryName(dead)!);
        // A socket left by a shim that died: bound, nobody listening (connect is refused, as for a killed shim's file).
        // Kept open to the end: .NET unlinks a socket's file when it closes it.
        using var gone = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        gone.Bind(new UnixDomainSocketEndPoint(dead));
        // A sandbox directory without a socket (an older shim) is not a sandbox to scrape.
        Directory.CreateDirectory(Path.Combine(runDir, "k8s.io", "podD"));
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var exit = await MetricsCommand.RunAsync(["--run-dir", runDir], stdout, stderr).WithTimeout();

        exit.ShouldBe(MetricsCommand.ExitOk);
        stdout.ToString().ShouldBe(
            "# TYPE cc_vmm_memory_pss_bytes gauge\n"
            + "cc_vmm_memory_pss_bytes{namespace=\"default\",sandbox=\"podB\"} 2\n"
            + "cc_vmm_memory_pss_bytes{namespace=\"k8s.io\",sandbox=\"podA\"} 1\n");
        stderr.ToString().ShouldStartWith($"skipped sandbox k8s.io/podC ({dead}): ");
        stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length.ShouldBe(1);
    }

    [Fact]
    public async Task With_listen_the_command_serves_the_merge_per_request_until_stopped_and_removes_its_socket()
    {
        var runDir = Path.Combine(_dir, "run");
        Serve("run/k8s.io/podA/monitor.sock", Text("cc_x{namespace=\"k8s.io\",sandbox=\"podA\"} 1\n"));
        var node = Path.Combine(_dir, "node.sock");
        using var stop = new CancellationTokenSource();
        var stdout = new StringWriter();

        var serving = MetricsCommand.RunAsync(["--run-dir", runDir, "--listen", "unix:" + node], stdout, new StringWriter(), stop.Token);
        await Bounded.UntilAsync(() => File.Exists(node), "the command listens");
        var first = await MetricsScraper.GetAsync(new UnixDomainSocketEndPoint(node), CancellationToken.None).WithTimeout();
        // A pod that starts later is in the next answer: every request scrapes afresh.
        Serve("run/default/podB/monitor.sock", Text("cc_x{namespace=\"default\",sandbox=\"podB\"} 2\n"));
        var second = await MetricsScraper.GetAsync(new UnixDomainSocketEndPoint(node), CancellationToken.None).WithTimeout();
        await stop.CancelAsync();

        (await serving.WithTimeout(TimeSpan.FromSeconds(15))).ShouldBe(MetricsCommand.ExitOk);
        first.ShouldBe("cc_x{namespace=\"k8s.io\",sandbox=\"podA\"} 1\n");
        second.ShouldBe("cc_x{namespace=\"default\",sandbox=\"podB\"} 2\ncc_x{namespace=\"k8s.io\",sandbox=\"podA\"} 1\n");
        File.Exists(node).ShouldBeFalse();
    }

    [Theory]
    [InlineData("127.0.0.1:9100", true)]
    [InlineData("[::1]:9100", true)]
    [InlineData("unix:/run/cc/metrics.sock", true)]
    [InlineData("unix:", false)]
    [InlineData("localhost", false)]
    [InlineData("127.0.0.1", false)]
    public void Listen_takes_an_ip_and_port_or_a_unix_path(string address, bool valid) =>
        MetricsCommand.TryParseListen(address, out _).ShouldBe(valid);

    [Fact]
    public async Task A_bad_argument_is_a_usage_error()
    {
        var stderr = new StringWriter();
        (await MetricsCommand.RunAsync(["--bogus"], new StringWriter(), stderr)).ShouldBe(MetricsCommand.ExitUsage);
        stderr.ToString().ShouldStartWith("usage: containerd-shim-cc-v2 metrics");
    }
}
