using System.Threading.Channels;
using Cc.Shim.Sandbox;
using Cc.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Shim.Tests;

/// <summary>The periodic SetTime of the host's time to the guest (docs/reliability.md, "Time in the guest").</summary>
public sealed class GuestClockSyncTests
{
    [Fact]
    public async Task Every_interval_the_guest_gets_the_host_time_of_that_tick_and_a_failed_call_does_not_end_the_loop()
    {
        var time = new ManualTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        var sent = Channel.CreateUnbounded<DateTimeOffset>();
        var calls = 0;
        var sync = new GuestClockSync((now, _) =>
        {
            sent.Writer.TryWrite(now);
            // The first call fails as a guest that does not answer would.
            return Interlocked.Increment(ref calls) == 1 ? Task.FromException(new TimeoutException("no answer")) : Task.CompletedTask;
        }, time, NullLogger.Instance, "sb");
        await using (sync)
        {
            await Bounded.UntilAsync(() => time.ActiveTimers > 0, "the loop armed its timer");
            time.Advance(GuestClockSync.Interval);
            (await sent.Reader.ReadAsync().AsTask().WithTimeout()).ShouldBe(DateTimeOffset.FromUnixTimeSeconds(1_800_000_060));

            time.Advance(GuestClockSync.Interval);
            (await sent.Reader.ReadAsync().AsTask().WithTimeout()).ShouldBe(DateTimeOffset.FromUnixTimeSeconds(1_800_000_120));
        }

        time.Advance(GuestClockSync.Interval);
        sent.Reader.TryRead(out _).ShouldBeFalse("nothing is sent after disposal");
        await sync.DisposeAsync(); // idempotent: the VM's stop and its disposal both end it
    }

    [Fact]
    public async Task The_loop_never_inherits_the_deadline_of_the_call_that_started_it()
    {
        var time = new ManualTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        var seen = new TaskCompletionSource<DateTimeOffset?>(TaskCreationOptions.RunContinuationsAsynchronously);
        // Started inside a Create whose containerd deadline has passed by the first tick, as the launch starts it.
        var sync = await Task.Run(() =>
        {
            CallerDeadline.Set(DateTimeOffset.UtcNow - TimeSpan.FromSeconds(1));
            return new GuestClockSync((_, _) =>
            {
                seen.TrySetResult(CallerDeadline.Current);
                return Task.CompletedTask;
            }, time, NullLogger.Instance, "sb");
        });
        await using (sync)
        {
            await Bounded.UntilAsync(() => time.ActiveTimers > 0, "the loop armed its timer");
            time.Advance(GuestClockSync.Interval);

            (await seen.Task.WithTimeout()).ShouldBeNull("a tick's SetTime carries its own deadline, not the boot's caller's");
        }
    }
}
