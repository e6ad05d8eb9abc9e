namespace Cc.Integration.Containerd.Harness;

/// <summary>
/// The steps the fault tests (CcShimTests.Faults, .Restart, .SilentAgent, .HostileConfiguration) share: a task whose
/// shim and QEMU a test can then hurt, the removal of a task whose shim or VM died or that was refused, and the common
/// ending after the shim daemon itself is gone (kill -9, SIGTERM).
/// </summary>
internal static class FaultSteps
{
    /// <summary>A task running <c>sleep 1000</c>, the one shim daemon serving it and the one QEMU that daemon started.</summary>
    public sealed record SleepingTask(string Id, int Shim, int Qemu);

    /// <summary>Runs a detached <c>sleep 1000</c> with a new id from <paramref name="idPrefix"/> and finds its shim and QEMU.</summary>
    public static async Task<SleepingTask> RunSleepingTaskAsync(this ContainerdSession s, string idPrefix)
    {
        var id = s.NewId(idPrefix);
        await s.RunDetachedAsync(id, "sleep", "1000");
        var shim = Leftovers.ShimPids(s.Containerd, id).ShouldHaveSingleItem("one shim serves the task");
        var qemu = Leftovers.QemuChildren(shim).ShouldHaveSingleItem("the shim daemon started one QEMU");
        return new SleepingTask(id, shim, qemu);
    }

    /// <summary>
    /// <c>ctr task rm -f</c> (the task may be gone already: its shim died, or its Create was refused) and
    /// <c>ctr container rm</c>, both of which must work.
    /// </summary>
    public static async Task ForceRemoveAsync(this ContainerdSession s, string id)
    {
        var task = await s.CtrAsync("task", "rm", "-f", id);
        (task.ExitCode == 0 || task.Stderr.Contains("not found", StringComparison.Ordinal)).ShouldBeTrue(s.Because(task));
        s.ShouldSucceed(await s.CtrAsync("container", "rm", id));
    }

    /// <summary>
    /// Deletes ctr's own stdio FIFOs of a detached run. They stay when the task ended without ctr (the runc shim leaves
    /// them the same way, docs/shim.md): they are the client's files, not the shim's, so they are removed, not judged.
    /// </summary>
    public static void DiscardClientFifos(this ContainerdSession s, string id)
    {
        foreach (var fifo in Directory.EnumerateFiles(s.Containerd.FifoDirectory, $"{id}-*", SearchOption.AllDirectories))
        {
            File.Delete(fifo);
        }
    }

    /// <summary>
    /// The ending after the shim daemon of <paramref name="task"/> is gone (<paramref name="how"/>: "was killed",
    /// "ended on SIGTERM"): containerd sees the task stopped or forgets it within a minute, <c>task rm -f</c> and
    /// <c>container rm</c> work, nothing of the task is left, and the daemon's QEMU is gone.
    /// </summary>
    public static async Task AfterItsShimEndedRemoveAndLeaveNothingAsync(this ContainerdSession s, SleepingTask task, string how)
    {
        await WaitUntilAsync(async () => TaskGoneOrStopped(await s.CtrAsync("task", "ls"), task.Id), TimeSpan.FromSeconds(60),
            $"task {task.Id} stopped or gone after its shim {how}");
        await s.ForceRemoveAsync(task.Id);
        s.DiscardClientFifos(task.Id);
        await s.ShouldLeaveNothingAsync(task.Id);
        // Killed by `shim delete` or by the daemon's own clean-up; with its parent gone, reaping it is up to whoever
        // inherited it (a zombie is dead).
        IsGoneOrZombie(task.Qemu).ShouldBeTrue($"QEMU {task.Qemu} of the shim that {how} is gone");
    }

    /// <summary>Whether <paramref name="pid"/> has exited (gone, or a zombie not yet reaped).</summary>
    public static bool IsGoneOrZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return true;
        }
    }

    /// <summary>Polls <paramref name="condition"/> every 200 ms until it holds; a <see cref="TimeoutException"/> naming <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"timed out waiting until {what}");
            }
            await Task.Delay(200);
        }
    }

    private static bool TaskGoneOrStopped(ProcessResult list, string id) =>
        ContainerdSession.TaskStatus(list.Stdout, id) is null or "STOPPED";
}
