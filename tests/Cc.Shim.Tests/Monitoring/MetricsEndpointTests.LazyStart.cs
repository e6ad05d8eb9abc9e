using System.Diagnostics.Metrics;
using Cc.Shim.Monitoring;
using Cc.TestKit;
using Cc.Ttrpc;

namespace Cc.Shim.Tests.Monitoring;

/// <summary>
/// prometheus-net starts on the first export, not with the shim (docs/metrics.md, "How it is built"): nothing listens to
/// the sandbox's instruments before, and the agent calls made meanwhile are in the first exposition, exactly.
/// </summary>
public sealed partial class MetricsEndpointTests
{
    private const string Agent = "cc.agent.v1.Agent";

    /// <summary>The sandbox's instruments as a bystander sees them: published, but not enabled by this listener.</summary>
    private static (MeterListener Listener, List<Instrument> Instruments) Instruments(SandboxMetrics metrics)
    {
        var instruments = new List<Instrument>();
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter == metrics.Meter)
                {
                    lock (instruments)
                    {
                        instruments.Add(instrument);
                    }
                }
            },
        };
        listener.Start();
        return (listener, instruments);
    }

    [Fact]
    public async Task Nothing_listens_before_the_first_export_and_the_agent_calls_made_before_it_are_in_it_exactly()
    {
        using var metrics = new SandboxMetrics("k8s.io", "lazy");
        using var exporter = new MetricsExporter(metrics, new FakeSource());
        var bystander = Instruments(metrics);
        using var listener = bystander.Listener;
        var calls = bystander.Instruments.Single(i => i.Name == "agent.calls");

        // 3 ms and 4 ms (on the 0.004 bound: Prometheus's le includes it) in one bucket, 5 ms in the next.
        metrics.ObserveAgentCall(Agent, "StatsContainer", StatusCode.Ok, TimeSpan.FromMilliseconds(3));
        metrics.ObserveAgentCall(Agent, "StatsContainer", StatusCode.Ok, TimeSpan.FromMilliseconds(4));
        metrics.ObserveAgentCall(Agent, "StatsContainer", StatusCode.Ok, TimeSpan.FromMilliseconds(5));
        metrics.ObserveAgentCall(Agent, "Check", StatusCode.DeadlineExceeded, TimeSpan.FromSeconds(1));
        metrics.ObserveAgentCall(Agent, "WaitProcess", StatusCode.Ok, TimeSpan.FromSeconds(100));

        exporter.IsStarted.ShouldBeFalse();
        calls.Enabled.ShouldBeFalse("no listener is attached to the sandbox's instruments before the first scrape");

        var first = await ExportAsync(exporter);

        exporter.IsStarted.ShouldBeTrue();
        calls.Enabled.ShouldBeTrue();
        Value(first, """cc_agent_calls{namespace="k8s.io",sandbox="lazy",code="Ok",method="StatsContainer"}""").ShouldBe(3);
        Value(first, """cc_agent_calls{namespace="k8s.io",sandbox="lazy",code="DeadlineExceeded",method="Check"}""").ShouldBe(1);
        Value(first, """cc_agent_call_duration_seconds_bucket{namespace="k8s.io",sandbox="lazy",method="StatsContainer",le="0.002"}""").ShouldBe(0);
        Value(first, """cc_agent_call_duration_seconds_bucket{namespace="k8s.io",sandbox="lazy",method="StatsContainer",le="0.004"}""").ShouldBe(2);
        Value(first, """cc_agent_call_duration_seconds_bucket{namespace="k8s.io",sandbox="lazy",method="StatsContainer",le="0.008"}""").ShouldBe(3);
        Value(first, """cc_agent_call_duration_seconds_count{namespace="k8s.io",sandbox="lazy",method="StatsContainer"}""").ShouldBe(3);
        Value(first, """cc_agent_call_duration_seconds_sum{namespace="k8s.io",sandbox="lazy",method="StatsContainer"}""").ShouldBe(0.012, 1e-12);
        // Above the last bound (32.768 s): only +Inf holds it, and the sum is still exact.
        Value(first, """cc_agent_call_duration_seconds_bucket{namespace="k8s.io",sandbox="lazy",method="WaitProcess",le="32.768"}""").ShouldBe(0);
        Value(first, """cc_agent_call_duration_seconds_bucket{namespace="k8s.io",sandbox="lazy",method="WaitProcess",le="+Inf"}""").ShouldBe(1);
        Value(first, """cc_agent_call_duration_seconds_sum{namespace="k8s.io",sandbox="lazy",method="WaitProcess"}""").ShouldBe(100, 1e-9);

        // From now on calls go to the listening instruments and add to what was handed over.
        metrics.ObserveAgentCall(Agent, "StatsContainer", StatusCode.Ok, TimeSpan.FromMilliseconds(3));
        var second = await ExportAsync(exporter);

        Value(second, """cc_agent_calls{namespace="k8s.io",sandbox="lazy",code="Ok",method="StatsContainer"}""").ShouldBe(4);
        Value(second, """cc_agent_call_duration_seconds_bucket{namespace="k8s.io",sandbox="lazy",method="StatsContainer",le="0.004"}""").ShouldBe(3);
        Value(second, """cc_agent_call_duration_seconds_sum{namespace="k8s.io",sandbox="lazy",method="StatsContainer"}""").ShouldBe(0.015, 1e-12);
    }

    [Fact]
    public async Task Calls_racing_the_first_export_are_each_counted_once()
    {
        using var metrics = new SandboxMetrics("k8s.io", "race");
        using var exporter = new MetricsExporter(metrics, new FakeSource());
        const int Threads = 4, Batch = 50, AfterStart = 500;
        var made = new long[Threads];

        // Each caller calls in small batches until it has made AfterStart calls after the exporter started: calls before,
        // during and after the hand-over, from several threads at once.
        var callers = Enumerable.Range(0, Threads).Select(t => Task.Run(async () =>
        {
            long? startedAt = null;
            while (startedAt is null || made[t] - startedAt < AfterStart)
            {
                for (var n = 0; n < Batch; n++)
                {
                    metrics.ObserveAgentCall(Agent, "Check", StatusCode.Ok, TimeSpan.FromMilliseconds(1));
                }
                Interlocked.Add(ref made[t], Batch);
                startedAt ??= exporter.IsStarted ? made[t] : null;
                await Task.Delay(1);
            }
        })).ToArray();
        await Bounded.UntilAsync(() => Enumerable.Range(0, Threads).All(t => Interlocked.Read(ref made[t]) >= 1000), "every caller made 1000 calls");
        await ExportAsync(exporter);
        await Task.WhenAll(callers).WithTimeout();
        var text = await ExportAsync(exporter);

        var total = made.Sum();
        Value(text, """cc_agent_calls{namespace="k8s.io",sandbox="race",code="Ok",method="Check"}""").ShouldBe(total);
        Value(text, """cc_agent_call_duration_seconds_count{namespace="k8s.io",sandbox="race",method="Check"}""").ShouldBe(total);
    }

    [Fact]
    public async Task An_exporter_disposed_before_any_scrape_never_starts_and_refuses_to_export()
    {
        using var metrics = new SandboxMetrics("k8s.io", "unscraped");
        var exporter = new MetricsExporter(metrics, new FakeSource());

        exporter.Dispose();

        exporter.IsStarted.ShouldBeFalse();
        await Should.ThrowAsync<ObjectDisposedException>(() => ExportAsync(exporter));
    }
}
