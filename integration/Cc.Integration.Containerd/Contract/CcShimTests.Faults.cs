using System.Globalization;
using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Containerd.Contract;

/// <summary>
/// Faults only our runtime has a stake in: what QEMU inherits from the shim daemon, a shim killed with SIGKILL
/// while its task runs (containerd's clean-up runs <c>shim delete</c>, which must find the daemon dead and remove the
/// VM, the mounts, the run directory and the socket), and a QEMU killed with SIGKILL under a live shim (the shim ends
/// the task with 137 and cleans up what the VM owned).
/// </summary>
public sealed partial class CcShimTests
{
    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task QEMU_holds_no_socket_or_pipe_of_the_daemon_except_its_captured_output(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var (id, shim, qemu) = await s.RunSleepingTaskAsync("fds");

        var daemon = Targets(shim);
        var inQemu = Targets(qemu);

        // QEMU's stdout and stderr are the one pipe the daemon reads its lines from; nothing else is shared.
        inQemu[1].ShouldStartWith("pipe:[");
        inQemu[2].ShouldBe(inQemu[1]);
        daemon.Values.ShouldContain(inQemu[1]);
        var shared = inQemu.Where(fd => fd.Key > 2 && (fd.Value.StartsWith("socket:[") || fd.Value.StartsWith("pipe:["))
            && daemon.ContainsValue(fd.Value)).ToList();
        shared.ShouldBeEmpty($"QEMU {qemu} shares these with the daemon {shim}: {string.Join(", ", shared)}");
        daemon[3].ShouldStartWith("socket:[", customMessage: "fd 3 of the daemon is its listening ttrpc socket");
        inQemu.Values.ShouldNotContain(daemon[3]);

        await s.KillRemoveAndLeaveNothingAsync(id);
    }

    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task After_kill_9_of_the_shim_the_task_and_container_go_nothing_is_left_and_the_id_runs_again(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var task = await s.RunSleepingTaskAsync("kill9");
        var id = task.Id;

        Kill(task.Shim);

        // containerd sees the connection drop and runs `shim delete` itself; the task then ends (137) or is gone.
        await s.AfterItsShimEndedRemoveAndLeaveNothingAsync(task, "was killed");

        // The same id again: nothing of the first run is in the way.
        var again = await s.RunAsync(id, "echo", "second life");
        s.ShouldSucceed(again);
        again.Stdout.ShouldContain("second life");
        await s.ShouldLeaveNothingAsync(id);
    }

    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task After_kill_9_of_QEMU_the_task_exits_137_deletes_cleanly_nothing_is_left_and_the_id_runs_again(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var (id, shim, qemu) = await s.RunSleepingTaskAsync("vmdies");

        Kill(qemu);

        // The shim sees its VM die and ends the task itself (docs/shim.md, "A VM that dies"): the daemon lives on.
        await s.WaitForStatusAsync(id, "STOPPED", TimeSpan.FromSeconds(60));
        Leftovers.ShimPids(s.Containerd, id).ShouldHaveSingleItem("the daemon outlives its VM").ShouldBe(shim);
        var rm = await s.CtrAsync("task", "rm", id);
        s.ShouldSucceed(rm);
        rm.Stderr.ShouldContain($"task {id} exit with non-zero exit code {137}", customMessage: s.Because(rm));
        s.ShouldSucceed(await s.CtrAsync("container", "rm", id));
        await s.ShouldLeaveNothingAsync(id);

        var again = await s.RunAsync(id, "echo", "second life");
        s.ShouldSucceed(again);
        again.Stdout.ShouldContain("second life");
        await s.ShouldLeaveNothingAsync(id);
    }

    /// <summary>fd number → readlink target, read from outside the process.</summary>
    private static Dictionary<int, string> Targets(int pid) =>
        Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").ToDictionary(
            fd => int.Parse(Path.GetFileName(fd), CultureInfo.InvariantCulture),
            fd => new FileInfo(fd).LinkTarget ?? "");

    private static void Kill(int pid)
    {
        using var process = System.Diagnostics.Process.GetProcessById(pid);
        process.Kill();
    }
}
