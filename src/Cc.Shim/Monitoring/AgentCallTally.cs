namespace Cc.Shim.Monitoring;

/// <summary>
/// The shim's calls to the guest agent, as they happen: how many per method and status code, and how long they took
/// per method. Kept for the shim's whole life (one pod): a series once seen stays, cumulative, so <c>rate()</c> over
/// it is sound; the number of series is bounded by the agent's methods times the ttrpc codes.
/// Calls arrive on any thread; a lock guards the state (a call is a round trip to the VM, far slower than the lock).
/// </summary>
public sealed class AgentCallTally
{
    /// <summary>Agent latencies: 1 ms to about 33 s, doubling.</summary>
    public static readonly IReadOnlyList<double> LatencyBounds = CumulativeHistogram.ExponentialBounds(0.001, 2, 16);

    private readonly Lock _lock = new();
    private readonly Dictionary<(string Method, string Code), long> _calls = [];
    private readonly Dictionary<string, CumulativeHistogram> _durations = new(StringComparer.Ordinal);

    public void Record(string method, string code, double seconds)
    {
        lock (_lock)
        {
            _calls[(method, code)] = _calls.GetValueOrDefault((method, code)) + 1;
            if (!_durations.TryGetValue(method, out var histogram))
            {
                histogram = new CumulativeHistogram(LatencyBounds);
                _durations.Add(method, histogram);
            }
            histogram.Observe(seconds);
        }
    }

    /// <summary>A consistent copy: every count with the durations of the same calls.</summary>
    public (IReadOnlyList<(string Method, string Code, long Calls)> Calls, IReadOnlyList<(string Method, CumulativeHistogram.Snapshot Durations)> Durations) Read()
    {
        lock (_lock)
        {
            return (_calls.Select(c => (c.Key.Method, c.Key.Code, c.Value)).ToList(),
                _durations.Select(d => (d.Key, d.Value.Read())).ToList());
        }
    }
}
