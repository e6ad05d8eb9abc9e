namespace Cc.Integration.Containerd.Contract;

public abstract partial class RuntimeContract
{
    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task Exec_without_a_tty_prints_its_output_and_returns_its_exit_status(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var id = s.NewId("exec");
        await s.RunDetachedAsync(id, "sleep", "1000");

        var result = await s.CtrAsync("task", "exec", "--exec-id", "e1", id, "sh", "-c", AfterCtrAttached("echo exec; exit 4"));

        result.ExitCode.ShouldBe(4, s.Because(result));
        result.Stdout.ShouldBe("exec\n", s.Because(result));
    }

    // ctr deletes its exec when it ends, which frees the id (runc); in the guest that Delete is the agent's
    // DeleteProcess, without which the agent kept the exited exec and refused the id (AlreadyExists) at the next Start.
    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task An_exec_id_runs_a_new_exec_once_the_exec_that_had_it_is_deleted(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var id = s.NewId("execid");
        await s.RunDetachedAsync(id, "sleep", "1000");

        var first = await s.CtrAsync("task", "exec", "--exec-id", "again", id, "sh", "-c", Short("echo first; exit 2"));
        var second = await s.CtrAsync("task", "exec", "--exec-id", "again", id, "sh", "-c", Short("echo second; exit 3"));

        first.ExitCode.ShouldBe(2, s.Because(first));
        first.Stdout.ShouldBe("first\n", s.Because(first));
        second.ExitCode.ShouldBe(3, s.Because(second));
        second.Stdout.ShouldBe("second\n", s.Because(second));
    }

    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task Exec_with_a_tty_gives_the_process_a_terminal(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var id = s.NewId("exectty");
        await s.RunDetachedAsync(id, "sleep", "1000");

        var result = await s.CtrOnTtyAsync("task", "exec", "-t", "--exec-id", "e2", id, "sh", "-c", AfterCtrAttached("tty; exit 6"));

        result.ExitCode.ShouldBe(6, s.Because(result));
        result.Stdout.ShouldContain("/dev/pts/", Case.Sensitive, s.Because(result));
    }

    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task Task_ps_lists_the_init_process_and_a_running_exec(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var id = s.NewId("ps");
        await s.RunDetachedAsync(id, "sleep", "1000");
        s.ShouldSucceed(await s.CtrAsync("task", "exec", "-d", "--exec-id", "e3", id, "sleep", "999"));

        var result = await s.CtrAsync("task", "ps", id);

        s.ShouldSucceed(result);
        // "PID  INFO" header, then one row per process starting with its pid.
        var pids = result.Stdout.Split('\n')
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault())
            .Where(first => int.TryParse(first, out var pid) && pid > 0)
            .ToList();
        pids.Count.ShouldBeGreaterThanOrEqualTo(2, s.Because(result));
        // The exec's row carries its id in runc's ProcessDetails, which ctr prints in the INFO column (`exec_id:"e3"`
        // on 1.7, `ExecID:e3` on 1.6's gogo types); the init's has none ("-").
        var execRow = result.Stdout.Split('\n').Where(line => line.Contains("e3", StringComparison.Ordinal)).ToList();
        execRow.Count.ShouldBe(1, s.Because(result));
        result.Stdout.Split('\n').Count(line => line.TrimEnd().EndsWith(" -", StringComparison.Ordinal))
            .ShouldBeGreaterThanOrEqualTo(1, s.Because(result));
    }
}
