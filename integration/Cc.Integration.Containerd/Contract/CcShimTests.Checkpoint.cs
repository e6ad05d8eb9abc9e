namespace Cc.Integration.Containerd.Contract;

/// <summary>
/// Checkpoint is not supported (docs/shim.md): through the real containerd, `ctr task checkpoint` fails with the shim's
/// Unimplemented and its reason, and the task, which containerd paused for the checkpoint and resumed after it, runs on.
/// </summary>
public sealed partial class CcShimTests
{
    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task Checkpoint_is_refused_as_not_implemented_with_the_reason_and_the_task_runs_on(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var id = s.NewId("checkpoint");
        await s.RunDetachedAsync(id, "sleep", "1000");

        var checkpoint = await s.CtrAsync("task", "checkpoint", id);

        checkpoint.ExitCode.ShouldNotBe(0, s.Because(checkpoint));
        checkpoint.Stderr.ShouldContain("checkpoint is not supported: the container runs inside a VM", customMessage: s.Because(checkpoint));
        checkpoint.Stderr.ShouldContain("not implemented", customMessage: s.Because(checkpoint));
        await s.WaitForStatusAsync(id, "RUNNING", TimeSpan.FromSeconds(30));
        var after = await s.CtrAsync("task", "exec", "--exec-id", "after", id, "echo", "still here");
        s.ShouldSucceed(after);
        after.Stdout.ShouldContain("still here");
        await s.KillRemoveAndLeaveNothingAsync(id);
    }
}
