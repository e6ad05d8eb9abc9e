namespace Cc.Shim.Monitoring;

/// <summary>
/// The agent calls observed before anything listens to the instruments (the exporter starts on the first scrape of
/// monitor.sock, docs/metrics.md): a <see cref="System.Diagnostics.Metrics.Counter{T}"/> or histogram measurement made
/// while no listener is attached is dropped by .NET, so until then the shim keeps its own tallies and hands them over
/// once. Bounded by the agent API, not by the pod's age: one count per method and status code, and per method one count
/// and one sum per latency bucket.
/// <para>
/// The hand-over is exact for what Prometheus shows: the calls per method and code, each bucket's count, and the sum
/// (each bucket is replayed as its count of observations of the bucket's mean, which lies inside the bucket). The
/// replay costs one histogram observation per call kept, once, inside the first scrape.
/// </para>
/// Not thread-safe: <see cref="SandboxMetrics"/> guards it with its lock.
/// </summary>
internal sealed class PendingAgentCalls
{
    private readonly IReadOnlyList<double> _bounds;
    private readonly Dictionary<(string Method, string Code), long> _calls = [];
    private readonly Dictionary<string, Bucket[]> _latencies = new(StringComparer.Ordinal);

    /// <param name="bounds">The histogram's upper bounds, ascending, as the exporter uses them (a value equal to a
    /// bound belongs to that bucket, Prometheus's <c>le</c>); one more bucket holds what is above the last.</param>
    public PendingAgentCalls(IReadOnlyList<double> bounds) => _bounds = bounds;

    public void Add(string method, string code, double seconds)
    {
        _calls[(method, code)] = _calls.GetValueOrDefault((method, code)) + 1;
        if (!_latencies.TryGetValue(method, out var buckets))
        {
            buckets = new Bucket[_bounds.Count + 1];
            _latencies.Add(method, buckets);
        }
        ref var bucket = ref buckets[BucketOf(seconds)];
        bucket.Count++;
        bucket.Sum += seconds;
    }

    /// <summary>Hands every tally to the instruments: <paramref name="calls"/> once per method and code with its
    /// count, <paramref name="latency"/> once per call kept.</summary>
    public void Replay(Action<string, string, long> calls, Action<string, double> latency)
    {
        foreach (var ((method, code), count) in _calls)
        {
            calls(method, code, count);
        }
        foreach (var (method, buckets) in _latencies)
        {
            for (var i = 0; i < buckets.Length; i++)
            {
                if (buckets[i].Count == 0)
                {
                    continue;
                }
                var value = Representative(i, buckets[i]);
                for (var n = 0L; n < buckets[i].Count; n++)
                {
                    latency(method, value);
                }
            }
        }
    }

    private int BucketOf(double seconds)
    {
        for (var i = 0; i < _bounds.Count; i++)
        {
            if (seconds <= _bounds[i])
            {
                return i;
            }
        }
        return _bounds.Count;
    }

    /// <summary>The bucket's mean, kept inside the bucket against rounding (all values on a bound sum to a hair above it).</summary>
    private double Representative(int index, Bucket bucket)
    {
        var mean = bucket.Sum / bucket.Count;
        if (index < _bounds.Count)
        {
            mean = Math.Min(mean, _bounds[index]);
        }
        if (index > 0)
        {
            mean = Math.Max(mean, Math.BitIncrement(_bounds[index - 1]));
        }
        return mean;
    }

    private struct Bucket
    {
        public long Count;
        public double Sum;
    }
}
