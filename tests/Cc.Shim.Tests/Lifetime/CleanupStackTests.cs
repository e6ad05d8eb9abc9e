using Cc.Shim.Lifetime;
using Cc.Shim.Tests.Fakes;
using Cc.TestKit;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Tests.Lifetime;

/// <summary>Registered shutdown: <see cref="CleanupStack"/> on its own.</summary>
public sealed class CleanupStackTests
{
    private readonly RecordingLogger _log = new();

    [Fact]
    public async Task Steps_run_in_reverse_order_of_registration()
    {
        var stack = new CleanupStack("test", _log);
        var ran = new List<string>();
        stack.Register("network", () => ran.Add("network"));
        stack.Register("qemu", () => ran.Add("qemu"));
        stack.Register("agent", () => ran.Add("agent"));

        await stack.RunAsync().WithTimeout();

        ran.ShouldBe(["agent", "qemu", "network"]);
        stack.Pending.ShouldBe(0);
    }

    [Fact]
    public async Task A_failing_step_is_logged_and_the_steps_registered_before_it_still_run()
    {
        var stack = new CleanupStack("test", _log);
        var ran = new List<string>();
        stack.Register("first", () => ran.Add("first"));
        stack.Register("broken", () => throw new IOException("device busy"));

        await stack.RunAsync().WithTimeout();

        ran.ShouldBe(["first"]);
        _log.Entries.ShouldContain(e => e.Level == LogLevel.Warning && e.Message.Contains("'broken' failed"));
    }

    [Fact]
    public async Task A_hanging_step_is_abandoned_at_its_bound_its_token_fires_and_the_rest_still_run()
    {
        var time = new ManualTimeProvider();
        var stack = new CleanupStack("test", _log, TimeSpan.FromSeconds(5), time);
        var firstRan = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hangStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tokenFired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        stack.Register("first", () => firstRan.SetResult());
        stack.Register("hangs", token =>
        {
            token.Register(() => tokenFired.TrySetResult());
            hangStarted.SetResult();
            return new TaskCompletionSource().Task; // never completes, ignores the token
        });

        var run = stack.RunAsync();
        await hangStarted.Task.WithTimeout();
        // The step's two timers (its token's and the abandon bound) exist once it runs.
        await Bounded.UntilAsync(() => time.ActiveTimers == 2, "the step's bound is armed");
        firstRan.Task.IsCompleted.ShouldBeFalse();
        time.Advance(TimeSpan.FromSeconds(5));

        await run.WithTimeout();
        await tokenFired.Task.WithTimeout();
        await firstRan.Task.WithTimeout();
        _log.Entries.ShouldContain(e => e.Message.Contains("'hangs' did not finish within 5 s"));
    }

    [Fact]
    public async Task A_synchronous_step_that_blocks_is_bounded_too()
    {
        // The bound is real time and also covers the trivial step's wait for a pool thread (the blocked step holds one):
        // at 100 ms a loaded CI machine abandoned "first" before the pool ran it.
        var stack = new CleanupStack("test", _log, TimeSpan.FromSeconds(2));
        using var release = new ManualResetEventSlim();
        var ran = new List<string>();
        stack.Register("first", () => ran.Add("first"));
        stack.Register("blocks", () => release.Wait());

        await stack.RunAsync().WithTimeout();
        release.Set();

        ran.ShouldBe(["first"]);
    }

    [Fact]
    public async Task Running_twice_runs_each_step_once_and_both_callers_await_the_same_run()
    {
        var stack = new CleanupStack("test", _log);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var count = 0;
        stack.Register("once", async _ =>
        {
            Interlocked.Increment(ref count);
            await gate.Task;
        });

        var first = stack.RunAsync();
        var second = stack.RunAsync();
        second.ShouldBeSameAs(first);
        first.IsCompleted.ShouldBeFalse();
        gate.SetResult();
        await Task.WhenAll(first, second).WithTimeout();
        await stack.RunAsync().WithTimeout();

        count.ShouldBe(1);
    }

    [Fact]
    public async Task A_registration_disposed_early_runs_its_step_then_and_not_again_in_the_stack_run()
    {
        var stack = new CleanupStack("test", _log);
        var ran = new List<string>();
        stack.Register("vm", () => ran.Add("vm"));
        var rootfs = stack.Register("rootfs", () => ran.Add("rootfs"));

        await rootfs.DisposeAsync().WithTimeout();
        await rootfs.DisposeAsync().WithTimeout();
        ran.ShouldBe(["rootfs"]);
        stack.Pending.ShouldBe(1);

        await stack.RunAsync().WithTimeout();
        ran.ShouldBe(["rootfs", "vm"]);
    }

    [Fact]
    public async Task A_forgotten_registration_never_runs()
    {
        var stack = new CleanupStack("test", _log);
        var ran = false;
        var handedOver = stack.Register("taps", () => ran = true);

        handedOver.Forget();
        await stack.RunAsync().WithTimeout();
        await handedOver.DisposeAsync().WithTimeout();

        ran.ShouldBeFalse();
    }

    [Fact]
    public async Task A_step_registered_after_the_run_began_runs_at_once()
    {
        var stack = new CleanupStack("test", _log);
        await stack.RunAsync().WithTimeout();
        var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var late = stack.Register("late rootfs", () => ran.SetResult());

        await ran.Task.WithTimeout();
        await late.DisposeAsync().WithTimeout();
        late.HasRun.ShouldBeTrue();
        stack.Pending.ShouldBe(0);
        _log.Entries.ShouldContain(e => e.Message.Contains("'late rootfs' registered after clean-up began"));
    }

    [Fact]
    public async Task A_step_registered_by_a_step_during_the_run_runs_too()
    {
        var stack = new CleanupStack("test", _log);
        var inner = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        stack.Register("outer", () => stack.Register("inner", () => inner.SetResult()));

        await stack.RunAsync().WithTimeout();

        await inner.Task.WithTimeout();
    }
}
