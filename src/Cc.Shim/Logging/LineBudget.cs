namespace Cc.Shim.Logging;

/// <summary>
/// A token bucket over lines: at most <see cref="Burst"/> lines at once, refilled at <see cref="LinesPerSecond"/>. What
/// keeps a chatty guest from flooding containerd's log: lines beyond the budget are counted, not logged, and the count
/// is reported once the budget allows a line again.
/// </summary>
public sealed class LineBudget(int burst, double linesPerSecond, TimeProvider time)
{
    private double _tokens = burst;
    private DateTimeOffset _last = time.GetUtcNow();

    public int Burst => burst;
    public double LinesPerSecond => linesPerSecond;

    /// <summary>Lines refused since the last <see cref="TakeDropped"/>.</summary>
    public long Dropped { get; private set; }

    /// <summary>
    /// True when one more line may be logged now; false when it must be dropped, which is counted unless
    /// <paramref name="countDrop"/> is false (the shim's own report of the count, which is not a guest line).
    /// </summary>
    public bool TryTake(bool countDrop = true)
    {
        var now = time.GetUtcNow();
        // A clock set back refills nothing rather than draining the budget.
        _tokens = Math.Min(burst, _tokens + Math.Max(0, (now - _last).TotalSeconds) * linesPerSecond);
        _last = now;
        if (_tokens >= 1)
        {
            _tokens -= 1;
            return true;
        }
        if (countDrop)
        {
            Dropped++;
        }
        return false;
    }

    /// <summary>The number of lines dropped since the last call, reset to zero.</summary>
    public long TakeDropped()
    {
        var dropped = Dropped;
        Dropped = 0;
        return dropped;
    }
}
