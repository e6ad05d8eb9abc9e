using Cc.Integration.Docker.Harness;

namespace Cc.Integration.Docker;

/// <summary>
/// The process Docker describes is the one that runs in the guest: capabilities, environment, working directory,
/// rlimits and hostname as the container sees them, the restart policy, and signals from `docker kill -s`.
/// runc is the reference; every script starts with `uname -r`, the guest kernel under cc.
/// </summary>
[Collection(DockerCollection.Name)]
[Trait("Category", "Docker")]
public sealed class DockerProcessTests(DockerFixture fixture) : DockerTestBase(fixture)
{
    private const int CapChown = 0;
    private const int CapNetAdmin = 12;

    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Env_workdir_ulimit_hostname_and_capabilities_are_the_processs(string runtime)
    {
        var lines = await InContainerAsync(runtime,
            ["-e", "FOO=bar baz", "-w", "/tmp", "--ulimit", "nofile=1234:1234", "--hostname", "box-1",
             "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN"],
            "echo \"$FOO\"; pwd; ulimit -n; hostname; awk '$1 == \"CapEff:\" { print $2 }' /proc/self/status");

        lines.Take(4).ShouldBe(["bar baz", "/tmp", "1234", "box-1"]);
        var effective = Convert.ToUInt64(lines[4], 16);
        (effective & (1UL << CapNetAdmin)).ShouldNotBe(0UL, $"CapEff {lines[4]} lacks the added NET_ADMIN");
        (effective & (1UL << CapChown)).ShouldBe(0UL, $"CapEff {lines[4]} keeps the dropped CHOWN");
    }

    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Default_capabilities_include_chown_and_exclude_net_admin(string runtime)
    {
        var lines = await InContainerAsync(runtime, [], "awk '$1 == \"CapEff:\" { print $2 }' /proc/self/status");

        var effective = Convert.ToUInt64(lines[0], 16);
        (effective & (1UL << CapNetAdmin)).ShouldBe(0UL);
        (effective & (1UL << CapChown)).ShouldNotBe(0UL);
    }

    /// <summary>
    /// `--restart on-failure:3` restarts a container that exits 1 three times, then leaves it exited: four `die` events,
    /// RestartCount 3. Each run appends to a file of the container's own filesystem, which survives its restarts.
    /// </summary>
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Restart_on_failure_3_restarts_a_failing_container_three_times(string runtime)
    {
        var since = DateTimeOffset.UtcNow.AddSeconds(-1).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var id = await DockerOkAsync("create", "--runtime", runtime, "--restart", "on-failure:3", Image, "sh", "-c",
            "uname -r >> /runs; exit 1");
        try
        {
            await using (var events = Docker.StartDocker("events", "--since", since, "--filter", $"container={id}",
                             "--filter", "event=die", "--format", "{{.Action}}"))
            {
                await DockerOkAsync("start", id);
                await events.WaitForStdoutAsync("die\ndie\ndie\ndie", RunTimeout * 2, CancellationToken.None);
            }

            (await DockerOkAsync("inspect", "-f", "{{.RestartCount}} {{.State.ExitCode}}", id)).ShouldBe("3 1");
            // `docker cp … -` writes a tar of the one file: its content, one kernel release per run, is in it verbatim.
            var runs = await DockerOkAsync("cp", $"{id}:/runs", "-");
            runs.Split(KernelOf(runtime)).Length.ShouldBe(5, "four runs, each in the container's kernel");
        }
        finally
        {
            await DockerOkAsync("rm", "-f", id);
        }
    }

    /// <summary>
    /// `docker kill -s` delivers each signal to the container's process: a shell that traps HUP, USR1 and USR2 prints
    /// each one's name, and INT ends it with its own exit code.
    /// </summary>
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Docker_kill_delivers_each_signal_to_a_trapping_process(string runtime)
    {
        var id = await DockerOkAsync("run", "-d", "--runtime", runtime, Image, "sh", "-c",
            "for s in HUP USR1 USR2; do trap \"echo got-$s\" $s; done; trap 'exit 42' INT; uname -r; echo ready; "
            + "while :; do sleep 0.2; done");
        try
        {
            await using (var logs = Docker.StartDocker("logs", "-f", id))
            {
                await logs.WaitForStdoutAsync("ready", RunTimeout, CancellationToken.None);
                logs.Stdout.ShouldStartWith(KernelOf(runtime));
                foreach (var signal in new[] { "HUP", "USR1", "USR2" })
                {
                    await DockerOkAsync("kill", "-s", signal, id);
                    await logs.WaitForStdoutAsync($"got-{signal}", CommandTimeout, CancellationToken.None);
                }

                await DockerOkAsync("kill", "-s", "INT", id);
            }

            (await DockerOkAsync("wait", id)).ShouldBe("42");
        }
        finally
        {
            await DockerOkAsync("rm", "-f", id);
        }
    }
}
