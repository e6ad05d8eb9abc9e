using Prometheus;

namespace Cc.Shim.Monitoring;

/// <summary>
/// The Prometheus text exposition of one sandbox's <see cref="SandboxMetrics"/>, written by prometheus-net (its
/// MeterAdapter turns the System.Diagnostics.Metrics instruments into Prometheus metrics; nothing here formats text).
/// Every series carries the registry's static labels <c>namespace</c> and <c>sandbox</c>, so expositions of many shims
/// merge without clashes (<see cref="ExpositionMerge"/>).
/// <para>
/// prometheus-net starts on the first export, not with the shim: most pods are never scraped, and until then no
/// listener runs on every agent call (measured: its registry, adapters and listeners hold about 0.2 MB of a shim's
/// PSS; the rest of what the metrics cost is the code, shared by every shim of the node; docs/performance.md,
/// "Metrics"). The agent calls made until then are kept by <see cref="SandboxMetrics"/> and handed over when the
/// listeners are attached.
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

    private readonly SandboxMetrics _metrics;
    private readonly ISandboxMetricsSource _source;
    // Guards _started and _disposed: the HTTP server exports one request at a time, Dispose comes from the clean-up.
    private readonly Lock _lock = new();
    private volatile Started? _started;
    private bool _disposed;

    /// <summary>Cheap: nothing of prometheus-net is touched until <see cref="ExportAsync"/>.</summary>
    public MetricsExporter(SandboxMetrics metrics, ISandboxMetricsSource source)
    {
        _metrics = metrics;
        _source = source;
    }

    /// <summary>Whether prometheus-net has started (the first export did it).</summary>
    public bool IsStarted => _started is not null;

    /// <summary>Samples the pod (<see cref="SandboxMetrics.RefreshAsync"/>) and writes the text exposition to <paramref name="to"/>.</summary>
    public async Task ExportAsync(Stream to, CancellationToken cancellationToken)
    {
        var started = Start();
        await _metrics.RefreshAsync(_source, cancellationToken).ConfigureAwait(false);
        await started.Registry.CollectAndExportAsTextAsync(to, cancellationToken).ConfigureAwait(false);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _started?.Dispose();
        }
    }

    private Started Start()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_started is null)
            {
                _started = new Started(_metrics);
                // The adapters' listeners are attached now (MeterListener.Start enables the instruments before it
                // returns), so the calls kept until now can be handed over without one being lost or counted twice.
                _metrics.ListenerAttached();
            }
            return _started;
        }
    }

    /// <summary>prometheus-net's part: the registry and the two adapters listening to the sandbox's meter.</summary>
    private sealed class Started : IDisposable
    {
        private readonly IDisposable _recorded;
        private readonly IDisposable _sampled;

        public Started(SandboxMetrics metrics)
        {
            Registry = Prometheus.Metrics.NewCustomRegistry();
            Registry.SetStaticLabels(new Dictionary<string, string>
            {
                ["namespace"] = metrics.Namespace,
                ["sandbox"] = metrics.SandboxId,
            });
            var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
            var buckets = SandboxMetrics.AgentCallBuckets.ToArray();
            _recorded = MeterAdapter.StartListening(new MeterAdapterOptions
            {
                Registry = Registry,
                MetricFactory = factory,
                InstrumentFilterPredicate = i => i.Meter == metrics.Meter && !i.IsObservable,
                MetricsExpireAfter = RecordedExpiry,
                ResolveHistogramBuckets = _ => buckets,
            });
            _sampled = MeterAdapter.StartListening(new MeterAdapterOptions
            {
                Registry = Registry,
                MetricFactory = factory,
                InstrumentFilterPredicate = i => i.Meter == metrics.Meter && i.IsObservable,
                MetricsExpireAfter = SampledExpiry,
            });
        }

        public CollectorRegistry Registry { get; }

        public void Dispose()
        {
            _sampled.Dispose();
            _recorded.Dispose();
        }
    }
}
