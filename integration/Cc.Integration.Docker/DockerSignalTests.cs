using System.Globalization;
using Cc.Integration.Docker.Harness;

namespace Cc.Integration.Docker;

/// <summary>
/// Every signal of `kill -l` reaches the container's process, and a process ended by a signal reports 128 + that
/// signal, under cc as under runc. Each container prints `uname -r` first: the guest kernel under cc.
/// </summary>
[Collection(DockerCollection.Name)]
[Trait("Category", "Docker")]
public sealed class DockerSignalTests(DockerFixture fixture) : DockerTestBase(fixture)
{
    /// <summary>
    /// The standard signals 1–31 but KILL (9) and STOP (19), which no process can catch, and the real-time signals
    /// 34–64 (glibc keeps 32 and 33 for itself; Docker and `kill -l` start the RT range at 34).
    /// </summary>
    private static readonly int[] s_catchable =
        [.. Enumerable.Range(1, 31).Where(n => n is not 9 and not 19), .. Enumerable.Range(34, 31)];

    /// <summary>
    /// `docker kill -s N` for each catchable signal, one after the other, to a shell that traps them all and prints
    /// `&lt;got-N&gt;`. The shell waits in its `read` builtin on a fifo, never in a child: a trapped CHLD must come from
    /// `docker kill`, not from a child's exit.
    /// </summary>
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Docker_kill_delivers_every_catchable_signal_including_the_real_time_ones(string runtime)
    {
        var traps = string.Join(' ', s_catchable.Select(n => $"trap 'echo \"<got-{n}>\"' {n};"));
        var id = await DockerOkAsync("run", "-d", "--runtime", runtime, Image, "sh", "-c",
            $"mkfifo /wait; exec 3<> /wait; {traps} uname -r; echo ready; while :; do read -t 1 line <&3; done");
        try
        {
            await using var logs = Docker.StartDocker("logs", "-f", id);
            await logs.WaitForStdoutAsync("ready", RunTimeout, CancellationToken.None);
            logs.Stdout.ShouldStartWith(KernelOf(runtime));
            foreach (var signal in s_catchable)
            {
                await DockerOkAsync("kill", "-s", signal.ToString(CultureInfo.InvariantCulture), id);
                await logs.WaitForStdoutAsync($"<got-{signal}>", CommandTimeout, CancellationToken.None);
            }
        }
        finally
        {
            await DockerOkAsync("rm", "-f", id);
        }
    }

    /// <summary>
    /// A process that a signal ends exits with 128 + the signal, as the shell and runc report it: a `docker exec` that
    /// sends itself the signal (an exec is not its namespace's PID 1, so the default action kills it; the init's case,
    /// SIGKILL → 137, is `A_container_killed_with_sigkill_exits_137`).
    /// </summary>
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task An_exec_ended_by_a_signal_exits_128_plus_the_signal(string runtime)
    {
        var id = await DockerOkAsync("run", "-d", "--runtime", runtime, Image, "sh", "-c", "uname -r; exec sleep 1000");
        try
        {
            (await DockerOkAsync("exec", id, "uname", "-r")).ShouldBe(KernelOf(runtime));
            // PIPE too: a runtime that leaks its own SIG_IGN of SIGPIPE into the workload would fail it.
            foreach (var signal in new[] { 1, 2, 6, 10, 11, 13, 15, 34, 50, 64 })
            {
                var result = await Docker.DockerAsync(RunTimeout, CancellationToken.None,
                    ["exec", id, "sh", "-c", $"kill -{signal} $$; echo survived"]);
                result.ExitCode.ShouldBe(128 + signal, $"signal {signal}: {result.Describe()}");
                result.Stdout.ShouldNotContain("survived");
            }
        }
        finally
        {
            await DockerOkAsync("rm", "-f", id);
        }
    }
}
