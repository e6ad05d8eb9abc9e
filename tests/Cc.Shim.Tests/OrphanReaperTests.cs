using System.Globalization;
using Cc.Hypervisor.Processes;
using Cc.Shim.Lifetime;
using Cc.Hypervisor.Native;
using Cc.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Shim.Tests;

/// <summary>
/// Not run in parallel with anything: the test host becomes a child subreaper and reaps unregistered zombie children,
/// which a concurrently running test that started a child without <see cref="OwnChildren"/> must not meet.
/// </summary>
[CollectionDefinition(nameof(SubreaperCollection), DisableParallelization = true)]
public sealed class SubreaperCollection;

/// <summary>
/// The daemon's orphan reaping, in this process made a subreaper the way the daemon is: a shell started like QEMU
/// (ChildSpawner, registered) leaves a background <c>sleep</c> behind, which is re-parented to us and dies.
/// </summary>
[Collection(nameof(SubreaperCollection))]
public sealed class OrphanReaperTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("cc-reaper-").FullName;

    public OrphanReaperTests() => LogFifo.BecomeSubreaper();

    public void Dispose()
    {
        LibC.prctl(LibC.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task The_runtime_leaves_an_orphan_a_zombie_and_a_sweep_reaps_it_but_not_a_registered_zombie()
    {
        var orphan = await LeaveOrphanAsync(shellExit: 3);
        var registered = await LeaveOrphanAsync(shellExit: 4);
        await Bounded.UntilAsync(() => StateOf(orphan) is ('Z', _) && StateOf(registered) is ('Z', _), "both are zombies");
        // Stands for an own child whose waiter has not collected it yet: registered, exited, not reaped.
        OwnChildren.Start(() => registered, pid => pid);

        // Verified, not assumed: the .NET runtime (SIGCHLD not ignored at start, not PID 1) does not reap it.
        await Task.Delay(500);
        StateOf(orphan).ShouldBe(('Z', Environment.ProcessId), "the runtime reaps only its own Process children");

        var reaped = OrphanReaper.Sweep();

        reaped.ShouldContain(orphan);
        reaped.ShouldNotContain(registered);
        StateOf(orphan).ShouldBeNull("the orphan is gone from /proc");
        StateOf(registered).ShouldBe(('Z', Environment.ProcessId), "a registered zombie keeps its exit status for its own waiter");
        OwnChildren.Collected(registered);
        OrphanReaper.Sweep().ShouldContain(registered);
    }

    [Fact]
    public async Task The_running_reaper_reaps_orphans_on_SIGCHLD_while_own_children_keep_their_status()
    {
        using var reaper = new OrphanReaper(NullLogger.Instance);
        // Like a binary:// logger: spawned and waited by its own thread; it outlives the orphans' deaths.
        using var own = ChildSpawner.Spawn(new SpawnOptions { Executable = "/bin/sh", Arguments = ["-c", "sleep 1; exit 5"] });

        var orphans = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            orphans.Add(await LeaveOrphanAsync(shellExit: i));
        }

        // Well within the backstop: the SIGCHLD of each orphan's death triggers a sweep.
        await Bounded.UntilAsync(() => orphans.All(pid => StateOf(pid) is null), "every orphan was reaped",
            OrphanReaper.Backstop - TimeSpan.FromSeconds(1));
        (await own.Exited.WithTimeout()).ShouldBe(5);
        OwnChildren.Contains(own.Pid).ShouldBeFalse("the waiter reported the pid collected");
    }

    /// <summary>
    /// Starts <c>sh</c> as the shim starts QEMU (<see cref="ChildSpawner"/>), which backgrounds a short <c>sleep</c> and
    /// exits with <paramref name="shellExit"/>; checks the waiter still reports that code; returns the sleep's pid.
    /// </summary>
    private async Task<int> LeaveOrphanAsync(int shellExit)
    {
        var pidFile = Path.Combine(_root, $"orphan-{Guid.NewGuid():N}");
        using var shell = ChildSpawner.Spawn(new SpawnOptions
        {
            Executable = "/bin/sh",
            Arguments = ["-c", $"sleep 0.2 & echo $! > {pidFile}; exit {shellExit}"],
        });
        (await shell.Exited.WithTimeout()).ShouldBe(shellExit);
        var orphan = int.Parse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture);
        StateOf(orphan)?.Parent.ShouldBe(Environment.ProcessId, "the orphan was re-parented to the subreaper");
        return orphan;
    }

    /// <summary>State letter and parent pid from /proc/pid/stat; null once the pid is gone.</summary>
    private static (char State, int Parent)? StateOf(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            // Gone before the open (FileNotFound, DirectoryNotFound) or reaped between the open and the read (ESRCH).
            return null;
        }
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (fields[0][0], int.Parse(fields[1], CultureInfo.InvariantCulture));
    }
}
