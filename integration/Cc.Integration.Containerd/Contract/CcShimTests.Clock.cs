using System.Diagnostics;
using System.Globalization;
using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Containerd.Contract;

/// <summary>
/// The guest's clock under load (docs/reliability.md, "Time in the guest"): four pods boot at once on this 2-core host,
/// each sleeps 60 s by its own clock, and the host measures how long that took. A guest whose clocksource runs fast
/// (a TSC calibrated low) or slow ends its sleep early or late; one whose wall clock was not set from the host shows
/// another date. Category Clock: it takes about two minutes, so `--filter Category!=Clock` can leave it out.
/// </summary>
public sealed partial class CcShimTests
{
    private const int Pods = 4;
    private static readonly TimeSpan s_sleep = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan s_sleepTolerance = TimeSpan.FromSeconds(2);
    // `date +%s` has one-second resolution; the host's reading brackets the exec.
    private const long DateToleranceSeconds = 2;

    [Theory]
    [InlineData("1.6")]
    [Trait("Category", "Clock")]
    public async Task Four_pods_booted_at_once_each_sleep_60_s_of_host_time_and_see_the_host_date(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var clock = Stopwatch.StartNew();
        await using var events = await EventStream.SubscribeAsync(s.Containerd, clock, s.CancellationToken);
        var ids = Enumerable.Range(0, Pods).Select(i => s.NewId($"clock{i}")).ToArray();

        // All four boot together: the load that made a guest's `sleep 1000` end after 9 minutes.
        await Task.WhenAll(ids.Select(id => s.RunDetachedAsync(id, "sleep", "60")));

        var dates = await Task.WhenAll(ids.Select(id => GuestDateAsync(s, id)));
        var clocksources = await Task.WhenAll(ids.Select(id => s.CtrAsync("task", "exec", "--exec-id", "cs", id,
            "cat", "/sys/devices/system/clocksource/clocksource0/current_clocksource")));
        var exits = await Task.WhenAll(ids.Select(id => events.ArrivalAsync("/tasks/exit", id)
            .WaitAsync(s_sleep + TimeSpan.FromMinutes(2), s.CancellationToken)));
        var starts = await Task.WhenAll(ids.Select(id => events.ArrivalAsync("/tasks/start", id)
            .WaitAsync(TimeSpan.FromSeconds(5), s.CancellationToken)));

        var walls = starts.Zip(exits, (start, exit) => exit - start).ToArray();
        var report = string.Join("\n", ids.Select((id, i) =>
            $"{id}: sleep 60 took {EventStream.Seconds(walls[i])} s of host time; guest date {dates[i].Guest}, host {dates[i].Before}..{dates[i].After}, clocksource {clocksources[i].Stdout.Trim()}"));
        // Read by whoever tunes the tolerance (docs/reliability.md quotes a run).
        Console.WriteLine(report);
        foreach (var (wall, i) in walls.Select((w, i) => (w, i)))
        {
            wall.ShouldBeInRange(s_sleep - s_sleepTolerance, s_sleep + s_sleepTolerance, $"{report}\n{s.LogSinceStart(60)}");
            dates[i].Guest.ShouldBeInRange(dates[i].Before - DateToleranceSeconds, dates[i].After + DateToleranceSeconds, report);
        }
        foreach (var id in ids)
        {
            s.ShouldSucceed(await s.CtrAsync("task", "rm", id));
            s.ShouldSucceed(await s.CtrAsync("container", "rm", id));
        }
        foreach (var id in ids)
        {
            await s.ShouldLeaveNothingAsync(id);
        }
    }

    /// <summary>The guest's `date +%s` through an exec, bracketed by the host's Unix time before and after it.</summary>
    private static async Task<(long Before, long Guest, long After)> GuestDateAsync(ContainerdSession s, string id)
    {
        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var date = await s.CtrAsync("task", "exec", "--exec-id", "date", id, "date", "-u", "+%s");
        var after = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        s.ShouldSucceed(date);
        return (before, long.Parse(date.Stdout.Trim(), CultureInfo.InvariantCulture), after);
    }
}
