using System.Diagnostics;
using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Containerd.Contract;

/// <summary>
/// containerd restarted while a task runs, and the shim daemon ended by SIGTERM (docs/reliability.md, "Restarts").
/// After a restart containerd reconnects through the bundle's address file and never runs `shim delete` for that
/// connection, so the daemon itself must leave nothing when it exits; after a SIGTERM the daemon stops its VM and
/// exits, and containerd's clean-up (`shim delete`) must find nothing left to do that it cannot do.
/// </summary>
public sealed partial class CcShimTests
{
    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task After_a_containerd_restart_the_task_answers_status_exec_pids_stats_kill_wait_and_delete_leaving_nothing(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var id = s.NewId("restart");
        await s.RunDetachedAsync(id, "sleep", "1000");
        var shim = Leftovers.ShimPids(s.Containerd, id).ShouldHaveSingleItem("one shim serves the task");
        // The run_dir of the ConfigPath file (build/configuration.toml), not only /etc/cc's or the default's.
        var runDirectory = Path.Combine(Leftovers.ConfiguredRunDirectory(), PrivateContainerd.Namespace, id);
        Directory.Exists(Path.Combine(runDirectory, "shared")).ShouldBeTrue($"the sandbox's run directory is {runDirectory}");

        await s.Containerd.RestartAsync(s.CancellationToken);

        Leftovers.ShimPids(s.Containerd, id).ShouldBe([shim], "the shim outlives containerd's restart");
        await s.WaitForStatusAsync(id, "RUNNING", TimeSpan.FromSeconds(30));
        var exec = await s.CtrAsync("task", "exec", "--exec-id", "after", id, "echo", "still here");
        s.ShouldSucceed(exec);
        exec.Stdout.ShouldContain("still here");
        var pids = await s.CtrAsync("task", "ps", id);
        s.ShouldSucceed(pids);
        pids.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length.ShouldBeGreaterThan(1, s.Because(pids));
        s.ShouldSucceed(await s.CtrAsync("task", "metrics", id));

        using (var bound = CancellationTokenSource.CreateLinkedTokenSource(s.CancellationToken))
        {
            bound.CancelAfter(TimeSpan.FromSeconds(90));
            var wait = ContainerdTasksClient.WaitAsync(s.Containerd.Address, PrivateContainerd.Namespace, id, bound.Token);
            s.ShouldSucceed(await s.CtrAsync("task", "kill", "-s", "SIGKILL", id));
            var (status, message, exitStatus) = await wait;
            status.ShouldBe(0, $"Tasks.Wait after the restart: {message}\n{s.LogSinceStart(60)}");
            exitStatus.ShouldBe(137u);
        }
        await s.WaitForStatusAsync(id, "STOPPED", TimeSpan.FromSeconds(30));
        s.ShouldSucceed(await s.CtrAsync("task", "rm", id));
        s.ShouldSucceed(await s.CtrAsync("container", "rm", id));
        await s.ShouldLeaveNothingAsync(id);
    }

    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task After_SIGTERM_to_the_shim_daemon_the_task_stops_and_its_clean_up_leaves_nothing(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var task = await s.RunSleepingTaskAsync("sigterm");

        using (var daemon = Process.GetProcessById(task.Shim))
        {
            Signal(task.Shim, "TERM");
            // The daemon's exit is bounded by its shutdown steps (shutdown_timeout_seconds each).
            await daemon.WaitForExitAsync(s.CancellationToken).WaitAsync(TimeSpan.FromSeconds(60), s.CancellationToken);
        }

        await s.AfterItsShimEndedRemoveAndLeaveNothingAsync(task, "ended on SIGTERM");
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit(10_000).ShouldBeTrue("kill returns at once");
        kill.ExitCode.ShouldBe(0, $"kill -{signal} {pid}");
    }
}
