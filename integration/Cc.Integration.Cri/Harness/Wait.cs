using System.Diagnostics;

namespace Cc.Integration.Cri.Harness;

/// <summary>Bounded polling for state that only a query shows (CRI has no events for its clients).</summary>
internal static class Wait
{
    private static readonly TimeSpan s_interval = TimeSpan.FromMilliseconds(100);

    /// <summary>Polls <paramref name="probe"/> until it returns a value; throws <see cref="TimeoutException"/> naming <paramref name="what"/>.</summary>
    public static async Task<T> ForAsync<T>(string what, TimeSpan timeout, Func<Task<T?>> probe, CancellationToken cancellationToken)
        where T : class
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"{what}: not within {timeout.TotalSeconds:F0} s");
            }
            await Task.Delay(s_interval, cancellationToken);
        }
    }
}
