namespace Cc.Integration.Containerd.Contract;

public abstract partial class RuntimeContract
{
    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task Pause_and_resume_change_the_task_status(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var id = s.NewId("pause");
        await s.RunDetachedAsync(id, "sleep", "1000");

        s.ShouldSucceed(await s.CtrAsync("task", "pause", id));
        await s.WaitForStatusAsync(id, "PAUSED", TimeSpan.FromSeconds(30));
        s.ShouldSucceed(await s.CtrAsync("task", "resume", id));
        await s.WaitForStatusAsync(id, "RUNNING", TimeSpan.FromSeconds(30));
    }

    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task Deleting_the_task_and_the_container_leaves_nothing_behind(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var id = s.NewId("rm");
        await s.RunDetachedAsync(id, "sleep", "1000");

        await s.KillRemoveAndLeaveNothingAsync(id);
    }
}
