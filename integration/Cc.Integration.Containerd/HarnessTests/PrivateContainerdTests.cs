using System.Diagnostics;
using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Containerd.HarnessTests;

/// <summary>
/// The harness itself: the leak check sees a live task, and stop.sh removes everything an instance
/// made even when a task is still running. Uses its own instance (not the shared fixture's), since
/// it stops it mid-test.
/// </summary>
[Collection(ContainerdCollection.Name)]
[Trait("Category", "Containerd")]
public sealed class PrivateContainerdTests(ContainerdFixture fixture)
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task Stopping_an_instance_with_a_running_task_leaves_no_process_socket_mount_or_directory(string version)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var containerd = await PrivateContainerd.StartAsync(version, cts.Token);
        var stopped = false;
        try
        {
            (await containerd.CtrAsync(s_timeout, cts.Token, ["images", "import", "--base-name", fixture.Images.BusyboxBase, fixture.Images.BusyboxTar]))
                .ExitCode.ShouldBe(0);
            var qemuBefore = Leftovers.QemuPids();
            const string Id = "harness-live";
            var run = await containerd.CtrAsync(
                s_timeout, cts.Token, ["run", "-d", "--runtime", "io.containerd.runc.v2", fixture.Images.BusyboxImage, Id, "sleep", "1000"]);
            run.ExitCode.ShouldBe(0, run.Describe());

            // While the task lives the check must report its shim, socket and bundle: proof it can fail.
            var live = Leftovers.Find(containerd, Id, qemuBefore);
            live.ShouldContain(line => line.StartsWith("shim process", StringComparison.Ordinal), string.Join('\n', live));
            live.ShouldContain(line => line.StartsWith("shim socket left", StringComparison.Ordinal), string.Join('\n', live));
            live.ShouldContain(line => line.StartsWith("directory left", StringComparison.Ordinal), string.Join('\n', live));
            var daemon = ContainerdPid(containerd);

            await containerd.DisposeAsync();
            stopped = true;

            Leftovers.Find(containerd, Id, qemuBefore).ShouldBeEmpty();
            Directory.Exists(containerd.Directory).ShouldBeFalse();
            ProcessExists(daemon).ShouldBeFalse($"containerd {daemon} still runs after stop.sh");
            File.ReadAllText("/proc/self/mountinfo").ShouldNotContain(containerd.Directory);
        }
        finally
        {
            if (!stopped)
            {
                await containerd.DisposeAsync();
            }
        }
    }

    private static int ContainerdPid(PrivateContainerd containerd)
    {
        var line = File.ReadAllLines(Path.Combine(containerd.Directory, "env"))
            .Single(l => l.StartsWith("CC_CONTAINERD_PID=", StringComparison.Ordinal));
        return int.Parse(line["CC_CONTAINERD_PID=".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A zombie containerd (stopped, not yet reaped by whoever started it) does not run: stop.sh's rule.</summary>
    private static bool ProcessExists(int pid) => Cc.TestKit.Leftovers.HostProcess.IsRunning(pid);
}
