using System.Diagnostics;
using Cc.Integration.Docker.Harness;

namespace Cc.Integration.Docker;

/// <summary>
/// `docker run` options whose effect must exist inside the guest (each script starts with `uname -r`, checked to be the
/// guest kernel under cc), and `docker stop`'s TERM → KILL escalation; runc is the reference.
/// </summary>
[Collection(DockerCollection.Name)]
[Trait("Category", "Docker")]
public sealed class DockerOptionsTests(DockerFixture fixture) : DockerTestBase(fixture)
{
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task User_1000_runs_the_process_as_uid_and_gid_1000(string runtime)
    {
        var lines = await InContainerAsync(runtime, ["--user", "1000:1000"], "id -u; id -g");

        lines.ShouldBe(["1000", "1000"]);
    }

    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Read_only_makes_writes_to_the_root_fail_with_erofs_and_leaves_tmpfs_writable(string runtime)
    {
        var lines = await InContainerAsync(runtime, ["--read-only", "--tmpfs", "/tmp"],
            "touch /x 2>&1; echo rootfs=$?; touch /tmp/x; echo tmp=$?");

        lines.ShouldBe(["touch: /x: Read-only file system", "rootfs=1", "tmp=0"]);
    }

    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Tmpfs_mounts_a_tmpfs_of_the_asked_size(string runtime)
    {
        var lines = await InContainerAsync(runtime, ["--tmpfs", "/scratch:size=8m"],
            "awk '$2 == \"/scratch\" { print $3 }' /proc/mounts; df -k /scratch | awk 'NR == 2 { print $2 }'");

        lines.ShouldBe(["tmpfs", "8192"]);
    }

    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Shm_size_sizes_dev_shm(string runtime)
    {
        var lines = await InContainerAsync(runtime, ["--shm-size", "32m"], "df -k /dev/shm | awk 'NR == 2 { print $2 }'");

        lines.ShouldBe(["32768"]);
    }

    /// <summary>
    /// kernel.msgmax belongs to the IPC namespace, which starts from the kernel's default (8192), not the host's value,
    /// so 65536 can only come from the option. (Not net.ipv4.*: a new network namespace copies the host's IPv4 values.)
    /// </summary>
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Sysctl_sets_the_value_the_container_reads(string runtime)
    {
        var without = await InContainerAsync(runtime, [], "cat /proc/sys/kernel/msgmax");
        var with = await InContainerAsync(runtime, ["--sysctl", "kernel.msgmax=65536"], "cat /proc/sys/kernel/msgmax");

        without.ShouldNotBe(["65536"]);
        with.ShouldBe(["65536"]);
    }

    /// <summary>`docker stop` sends SIGTERM first: a process that handles it exits with its own code, at once.</summary>
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Docker_stop_delivers_sigterm_to_a_process_that_handles_it(string runtime)
    {
        var (code, elapsed) = await StopAsync(runtime, "trap 'exit 42' TERM", stopTimeoutSeconds: 30);

        code.ShouldBe("42");
        elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(30), "TERM ended it; docker stop did not need to escalate");
    }

    /// <summary>
    /// A process that ignores SIGTERM is killed when `docker stop -t 2` runs out: exit 137, and not before the 2 s.
    /// </summary>
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Docker_stop_escalates_to_sigkill_when_sigterm_is_ignored(string runtime)
    {
        var (code, elapsed) = await StopAsync(runtime, "trap '' TERM", stopTimeoutSeconds: 2);

        code.ShouldBe("137");
        elapsed.ShouldBeGreaterThanOrEqualTo(TimeSpan.FromSeconds(2));
    }

    /// <summary>
    /// Starts a container that installs <paramref name="trap"/>, says "ready" and sleeps in short steps (so the shell runs
    /// its trap between them), waits for "ready" in `docker logs -f`, then times `docker stop -t`.
    /// </summary>
    private async Task<(string ExitCode, TimeSpan Elapsed)> StopAsync(string runtime, string trap, int stopTimeoutSeconds)
    {
        var id = await DockerOkAsync("run", "-d", "--runtime", runtime, Image, "sh", "-c",
            $"{trap}; echo ready; while :; do sleep 0.2; done");
        try
        {
            await using (var logs = Docker.StartDocker("logs", "-f", id))
            {
                await logs.WaitForStdoutAsync("ready", RunTimeout, CancellationToken.None);
            }

            var clock = Stopwatch.StartNew();
            await DockerOkAsync("stop", "-t", stopTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), id);
            var elapsed = clock.Elapsed;

            return (await DockerOkAsync("inspect", "-f", "{{.State.ExitCode}}", id), elapsed);
        }
        finally
        {
            await DockerOkAsync("rm", "-f", id);
        }
    }
}
