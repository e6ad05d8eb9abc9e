namespace Cc.Integration.Containerd.Contract;

/// <summary>
/// AppArmor and SELinux labels name host policy that the guest does not load: the shim logs each one it ignores
/// (its log is containerd's) and the container runs in the guest as one without them; never an error. `ctr run
/// --apparmor-profile` only names the profile (it loads nothing), so the spec carries process.apparmorProfile, and an
/// exec inherits it in its process.json. (SELinux labels are not reachable through ctr, Docker or the CRI on a host
/// without SELinux; the agent's unit tests cover their removal: OciSpecSecurityLabelTests.)
/// </summary>
public sealed partial class CcShimTests
{
    [Theory]
    [InlineData("1.7")]
    public async Task An_apparmor_profile_is_ignored_with_a_log_line_and_the_container_and_its_exec_run(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var id = s.NewId("aa");

        await s.RunDetachedWithAsync(["--apparmor-profile", "cc-test-profile"], id, "sleep", "1000");
        var exec = await s.CtrAsync("task", "exec", "--exec-id", "e1", id, "uname", "-r");

        s.ShouldSucceed(exec);
        exec.Stdout.Trim().ShouldBe(Runtime.ExpectedKernel(), s.Because(exec));
        s.LogSinceStart().ShouldContain($"Container {id}: process.apparmorProfile 'cc-test-profile' ignored",
            Case.Sensitive);
        s.ShouldSucceed(await s.CtrAsync("task", "kill", "-s", "SIGKILL", id));
        await s.WaitForStatusAsync(id, "STOPPED", TimeSpan.FromSeconds(60));
        s.ShouldSucceed(await s.CtrAsync("task", "rm", id));
        s.ShouldSucceed(await s.CtrAsync("container", "rm", id));
        await s.ShouldLeaveNothingAsync(id);
    }
}
