using System.Diagnostics;
using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Containerd.HarnessTests;

/// <summary>
/// hack/containerd/start.sh removes the instances whose containerd died without stop.sh, but only those started from
/// its own checkout: several checkouts share /tmp/cc-ctrd.*, and another checkout's instance whose containerd is gone
/// may be one that hack/containerd/restart.sh is restarting (between its SIGTERM and the new pid in env), with shims
/// alive that its test still drives.
/// </summary>
[Trait("Category", "Containerd")]
public sealed class StaleInstanceTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Start_leaves_a_dead_instance_of_another_checkout_alone_and_removes_a_dead_one_of_its_own()
    {
        var dead = DeadPid();
        var theirs = FakeInstance("/work/another-checkout", dead);
        var ours = FakeInstance(RepoPaths.Root, dead);
        try
        {
            using var cts = new CancellationTokenSource(s_timeout);
            await using (await PrivateContainerd.StartAsync("1.6", cts.Token))
            {
            }

            Directory.Exists(theirs).ShouldBeTrue($"start.sh removed {theirs}, an instance of another checkout");
            Directory.Exists(ours).ShouldBeFalse($"start.sh left {ours}, a dead instance of this checkout");
        }
        finally
        {
            foreach (var dir in new[] { theirs, ours }.Where(Directory.Exists))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    /// <summary>An instance directory as start.sh leaves it, with nothing running: env and an empty state.</summary>
    private static string FakeInstance(string repo, int containerdPid)
    {
        var dir = Directory.CreateTempSubdirectory("cc-ctrd.").FullName;
        Directory.CreateDirectory(Path.Combine(dir, "state"));
        File.WriteAllText(Path.Combine(dir, "env"), $"""
            CC_REPO={repo}
            CC_CONTAINERD_VERSION=1.6
            CC_CONTAINERD_DIR={dir}
            CC_CONTAINERD_PID={containerdPid}
            CC_CONTAINERD_LOG={dir}/containerd.log
            CC_FIFO_DIR={dir}/fifo
            CONTAINERD=/usr/bin/containerd
            CTR=/usr/bin/ctr
            CONTAINERD_ADDRESS={dir}/containerd.sock
            CC_CRI=0
            CC_CNI_BRIDGE=

            """);
        return dir;
    }

    /// <summary>The pid of a process that has exited and been reaped (start.sh's test for a dead containerd).</summary>
    private static int DeadPid()
    {
        using var process = Process.Start("/bin/true") ?? throw new InvalidOperationException("/bin/true did not start");
        process.WaitForExit();
        return process.Id;
    }
}
