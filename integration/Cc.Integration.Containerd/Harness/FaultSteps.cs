namespace Cc.Integration.Containerd.Harness;

/// <summary>
/// The steps the fault tests (CcShimTests.Faults, .Restart, .SilentAgent, .HostileConfiguration) share: a task whose
/// shim and QEMU a test can then hurt, and the removal of a task whose shim or VM died or that was refused.
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
}
