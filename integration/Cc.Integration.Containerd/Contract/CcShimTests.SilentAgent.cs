using System.Diagnostics;
using Cc.Integration.Containerd.Harness;
using static Cc.Integration.Containerd.Harness.FaultSteps;

namespace Cc.Integration.Containerd.Contract;

/// <summary>
/// An agent that stops answering while its VM still exists: the pod's QEMU is stopped with SIGSTOP, so the guest,
/// its agent and QEMU's monitor all go silent at once and nothing exits. Only the health check can tell (docs/shim.md,
/// "A VM that dies"); this test gives it a short timeout and holds the shim to it.
/// </summary>
public sealed partial class CcShimTests
{
    private const int HealthIntervalSeconds = 1;
    private const int HealthTimeoutSeconds = 5;
    private const int ExecStartTimeoutSeconds = 20;

    /// <summary>What a loaded 2-core host may add to a bound: ctr's and containerd's own turns, the shim's scheduling.</summary>
    private static readonly TimeSpan HostSlack = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task When_QEMU_is_stopped_the_health_check_ends_the_task_137_an_exec_in_flight_fails_later_calls_fail_fast_and_nothing_is_left(string containerd)
    {
        using var configuration = TestConfiguration.WithLines(new Dictionary<string, string[]>
        {
            ["agent"] =
            [
                $"health_check_interval_seconds = {HealthIntervalSeconds}",
                $"health_check_timeout_seconds = {HealthTimeoutSeconds}",
                $"start_timeout_seconds = {ExecStartTimeoutSeconds}",
            ],
        });
        await using var s = await BeginAsync(containerd, RuntimeUnderTest.Cc.WithConfiguration(configuration.Path));
        var clock = Stopwatch.StartNew();
        await using var events = await EventStream.SubscribeAsync(s.Containerd, clock, s.CancellationToken);
        var (id, shim, qemu) = await s.RunSleepingTaskAsync("silent");
        try
        {
            Signal(qemu, "STOP");
            var stoppedAt = clock.Elapsed;
            // An exec that reaches the shim while the guest is silent: its agent call can only end by its deadline or
            // by the VM's failure, whichever comes first.
            var inFlight = s.CtrAsync("task", "exec", "--exec-id", "inflight", id, "echo", "never printed");

            var exitedAt = await events.ArrivalAsync("/tasks/exit", id).WaitAsync(TimeSpan.FromMinutes(2), s.CancellationToken);
            var detection = exitedAt - stoppedAt;
            detection.ShouldBeLessThan(TimeSpan.FromSeconds(HealthIntervalSeconds + HealthTimeoutSeconds) + HostSlack,
                $"TaskExit {EventStream.Seconds(detection)} s after SIGSTOP\n{s.LogSinceStart(80)}");
            events.Line("/tasks/exit", id).ShouldNotBeNull().ShouldContain("\"exit_status\":137");

            var exec = await inFlight;
            var execEnded = clock.Elapsed - stoppedAt;
            exec.ExitCode.ShouldNotBe(0, s.Because(exec));
            exec.Stdout.ShouldNotContain("never printed");
            execEnded.ShouldBeLessThan(TimeSpan.FromSeconds(ExecStartTimeoutSeconds) + HostSlack,
                $"the exec in flight ended {EventStream.Seconds(execEnded)} s after SIGSTOP\n{s.Because(exec)}");

            // The shim's kill path ends a stopped QEMU (SIGKILL needs no SIGCONT) and reaps it; the daemon lives on.
            await WaitUntilAsync(() => Task.FromResult(IsGoneOrZombie(qemu) && Leftovers.QemuChildren(shim).Count == 0),
                TimeSpan.FromSeconds(30), $"the stopped QEMU {qemu} is killed and reaped by the shim");
            Leftovers.ShimPids(s.Containerd, id).ShouldBe([shim], "the daemon outlives its VM: containerd still owns the task");
            await s.WaitForStatusAsync(id, "STOPPED", TimeSpan.FromSeconds(30));

            // Later calls fail fast, never waiting on the dead guest.
            var execAfter = await FastAsync(s, "task", "exec", "--exec-id", "after", id, "echo", "never printed");
            var killAfter = await FastAsync(s, "task", "kill", "-s", "SIGKILL", id);
            var pauseAfter = await FastAsync(s, "task", "pause", id);
            execAfter.ExitCode.ShouldNotBe(0, s.Because(execAfter));
            killAfter.ExitCode.ShouldNotBe(0, s.Because(killAfter));
            killAfter.Stderr.ShouldContain("not found", Case.Insensitive, s.Because(killAfter));
            pauseAfter.ExitCode.ShouldNotBe(0, s.Because(pauseAfter));

            var rm = await s.CtrAsync("task", "rm", id);
            s.ShouldSucceed(rm);
            rm.Stderr.ShouldContain($"task {id} exit with non-zero exit code {137}", customMessage: s.Because(rm));
            s.ShouldSucceed(await s.CtrAsync("container", "rm", id));
            await s.ShouldLeaveNothingAsync(id);
        }
        finally
        {
            // Only if the shim failed to: a stopped QEMU left behind would outlive the suite.
            if (!IsGoneOrZombie(qemu))
            {
                Signal(qemu, "KILL");
            }
        }
    }

    /// <summary>A ctr call that must be refused without waiting on any guest: well inside the smallest agent deadline.</summary>
    private static async Task<ProcessResult> FastAsync(ContainerdSession s, params string[] args)
    {
        var clock = Stopwatch.StartNew();
        var result = await s.CtrAsync(args);
        clock.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(5) + HostSlack / 2, $"ctr {string.Join(' ', args)}\n{s.Because(result)}");
        return result;
    }
}
