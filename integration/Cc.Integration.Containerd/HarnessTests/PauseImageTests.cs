using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Containerd.HarnessTests;

/// <summary>
/// The pause image (hack/images/pause/pause.c) behaves as a pod sandbox's PID 1 must: it keeps
/// running, and TERM ends it at once with status 0 (a PID 1 without a handler would ignore TERM and
/// wait for KILL). Run with runc: this is about the image, not about a runtime.
/// </summary>
[Collection(ContainerdCollection.Name)]
[Trait("Category", "Containerd")]
public sealed class PauseImageTests(ContainerdFixture fixture)
{
    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task The_pause_container_runs_until_TERM_and_then_exits_zero(string version)
    {
        var containerd = await fixture.GetAsync(version, CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(3));
        await using var s = new ContainerdSession(
            containerd, RuntimeUnderTest.Runc, fixture.Images.PauseImage, TimeSpan.FromMinutes(2), onHang: _ => { });
        var id = s.NewId("pause");
        await using var run = s.StartRun(id);
        await s.WaitForStatusAsync(id, "RUNNING", TimeSpan.FromSeconds(30));
        await Task.Delay(TimeSpan.FromSeconds(1), s.CancellationToken);
        run.HasExited.ShouldBeFalse("pause exited on its own");

        s.ShouldSucceed(await s.CtrAsync("task", "kill", "-s", "SIGTERM", id));
        var result = await s.WaitForExitAsync(run, TimeSpan.FromSeconds(10));

        result.ExitCode.ShouldBe(0, s.Because(result));
        await s.ShouldLeaveNothingAsync(id);
    }
}
