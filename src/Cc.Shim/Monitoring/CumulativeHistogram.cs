namespace Cc.Shim.Monitoring;

/// <summary>
/// A Prometheus histogram's state: how many observations fell at or below each upper bound, their count and their
/// sum. Observations are counted once, in the first bucket whose bound is at or above them (or only in the count when
/// above every bound); <see cref="Read"/> makes the counts cumulative, as the format wants them. Not thread-safe: the
/// owner serialises <see cref="Observe"/> and <see cref="Read"/> (<see cref="AgentCallTally"/> does, under its lock).
/// </summary>
public sealed class CumulativeHistogram(IReadOnlyList<double> upperBounds)
{
    private readonly long[] _counts = new long[upperBounds.Count];
    private long _count;
    private double _sum;

    /// <summary>Bounds from <paramref name="start"/>, each <paramref name="factor"/> times the one before; <paramref name="count"/> of them.</summary>
    public static double[] ExponentialBounds(double start, double factor, int count)
    {
        var bounds = new double[count];
        for (var i = 0; i < count; i++)
        {
            bounds[i] = i == 0 ? start : bounds[i - 1] * factor;
        }
        return bounds;
    }

    public void Observe(double value)
    {
        for (var i = 0; i < upperBounds.Count; i++)
        {
            if (value <= upperBounds[i])
            {
                _counts[i]++;
                break;
            }
        }
        _count++;
        _sum += value;
    }

    public Snapshot Read()
    {
        var cumulative = new long[_counts.Length];
        long running = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            running += _counts[i];
            cumulative[i] = running;
        }
        return new Snapshot(upperBounds, cumulative, _count, _sum);
    }

    /// <param name="CumulativeCounts">Observations at or below <c>UpperBounds[i]</c>; the <c>+Inf</c> bucket is <paramref name="Count"/>.</param>
    public sealed record Snapshot(IReadOnlyList<double> UpperBounds, IReadOnlyList<long> CumulativeCounts, long Count, double Sum);
}
