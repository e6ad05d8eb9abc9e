namespace Cc.Integration.Containerd.Contract;

public abstract partial class RuntimeContract
{
    private static readonly TimeSpan s_exitAfterSignal = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task Kill_with_TERM_reaches_a_process_that_traps_it(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var id = s.NewId("term");
        // PID 1 of a container ignores signals it has no handler for, hence the trap; the trap runs
        // when the current `sleep 1` ends.
        await using var run = s.StartRun(id, "sh", "-c", "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 1; done");
        await s.WaitForStdoutAsync(run, "ready");

        s.ShouldSucceed(await s.CtrAsync("task", "kill", "-s", "SIGTERM", id));
        var result = await s.WaitForExitAsync(run, s_exitAfterSignal);

        result.ExitCode.ShouldBe(7, s.Because(result));
        result.Stdout.ShouldContain("got-term", Case.Sensitive, s.Because(result));
        await s.ShouldLeaveNothingAsync(id);
    }

    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task Kill_with_KILL_ends_the_task_with_status_137(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var id = s.NewId("kill");
        await using var run = s.StartRun(id, "sh", "-c", "echo ready; exec sleep 1000");
        await s.WaitForStdoutAsync(run, "ready");

        s.ShouldSucceed(await s.CtrAsync("task", "kill", "-s", "SIGKILL", id));
        var result = await s.WaitForExitAsync(run, s_exitAfterSignal);

        result.ExitCode.ShouldBe(137, s.Because(result)); // 128 + SIGKILL, as runc reports it
        await s.ShouldLeaveNothingAsync(id);
    }
}
