using Prometheus;

namespace Cc.Shim.Monitoring;

/// <summary>
/// The Prometheus text exposition of one sandbox's <see cref="SandboxMetrics"/>, written by prometheus-net (its
/// MeterAdapter turns the System.Diagnostics.Metrics instruments into Prometheus metrics; nothing here formats text).
/// Every series carries the registry's static labels <c>namespace</c> and <c>sandbox</c>, so expositions of many shims
/// merge without clashes (<see cref="ExpositionMerge"/>).
/// <para>
/// prometheus-net starts with the shim. Starting it on the first scrape was built and measured (2026-12-07): it saved
/// about 0.2 MB of an unscraped shim's PSS (the metrics' cost is their code, shared by every shim of the node) and made
/// the shim keep and replay the agent calls until the first scrape; not worth that code (docs/metrics.md).
/// </para>
/// Two adapters, because prometheus-net forgets a series that was not updated for its expiry time: the recorded
/// instruments (agent calls) are cumulative in the adapter and must live as long as the shim (one day, its maximum, and
/// every call renews it); the observable ones are set afresh at each scrape, so a short expiry makes a deleted
/// container's series vanish soon after.
/// </summary>
public sealed class MetricsExporter : IDisposable
{
    /// <summary>How long a container's sampled series outlives its last scrape (then the container is gone from the guest).</summary>
    private static readonly TimeSpan SampledExpiry = TimeSpan.FromSeconds(30);

    /// <summary>prometheus-net's longest expiry; each agent call renews its series.</summary>
    private static readonly TimeSpan RecordedExpiry = TimeSpan.FromDays(1);

    /// <summary>Agent latencies: 1 ms to about 33 s, doubling.</summary>
    private static readonly double[] LatencyBuckets = Histogram.ExponentialBuckets(0.001, 2, 16);

    private readonly SandboxMetrics _metrics;
    private readonly ISandboxMetricsSource _source;
    private readonly CollectorRegistry _registry = Prometheus.Metrics.NewCustomRegistry();
    private readonly IDisposable _recorded;
    private readonly IDisposable _sampled;

    public MetricsExporter(SandboxMetrics metrics, ISandboxMetricsSource source)
    {
        _metrics = metrics;
        _source = source;
        _registry.SetStaticLabels(new Dictionary<string, string>
        {
            ["namespace"] = metrics.Namespace,
            ["sandbox"] = metrics.SandboxId,
        });
        var factory = Prometheus.Metrics.WithCustomRegistry(_registry);
        _recorded = MeterAdapter.StartListening(new MeterAdapterOptions
        {
            Registry = _registry,
            MetricFactory = factory,
            InstrumentFilterPredicate = i => i.Meter == metrics.Meter && !i.IsObservable,
            MetricsExpireAfter = RecordedExpiry,
            ResolveHistogramBuckets = _ => LatencyBuckets,
        });
        _sampled = MeterAdapter.StartListening(new MeterAdapterOptions
        {
            Registry = _registry,
            MetricFactory = factory,
            InstrumentFilterPredicate = i => i.Meter == metrics.Meter && i.IsObservable,
            MetricsExpireAfter = SampledExpiry,
        });
    }

    /// <summary>Samples the pod (<see cref="SandboxMetrics.RefreshAsync"/>) and writes the text exposition to <paramref name="to"/>.</summary>
    public async Task ExportAsync(Stream to, CancellationToken cancellationToken)
    {
        await _metrics.RefreshAsync(_source, cancellationToken).ConfigureAwait(false);
        await _registry.CollectAndExportAsTextAsync(to, cancellationToken).ConfigureAwait(false);
    }

    public void Dispose()
    {
        _sampled.Dispose();
        _recorded.Dispose();
    }
}
