using Cc.TestKit;

namespace Cc.Integration.Containerd.Contract;

/// <summary>
/// `ctr run --log-uri`: the container's stdout and stderr go to a file or a logger binary instead of ctr's FIFOs
/// (protocol.md §3.7.2). ctr 1.6 and 1.7 both take --log-uri on `run`.
/// </summary>
public abstract partial class RuntimeContract
{
    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task A_binary_logger_gets_stdout_and_stderr_and_is_gone_after_the_container_is_removed(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var id = s.NewId("binlog");
        var dir = Directory.CreateTempSubdirectory("cc-contract-logger-").FullName;
        try
        {
            var logger = WriteCopyingLogger(dir);
            var uri = $"binary://{logger}?out={dir}/stdout&err={dir}/stderr";

            // --rm: ctr deletes the task and the container once the process exited.
            var result = await s.CtrAsync(["run", "--rm", "--log-uri", uri, .. s.Runtime.RunOptions, s.Image, id,
                "sh", "-c", Short("echo to-stdout; echo to-stderr >&2; echo more-stdout")]);

            s.ShouldSucceed(result);
            result.Stdout.ShouldBeEmpty(s.Because(result));
            var pid = int.Parse(File.ReadAllText(Path.Combine(dir, "pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            // Both streams end before the exit is reported, so the logger has them all; it only needs to finish writing.
            await Bounded.UntilAsync(() => !ProcessExists(pid), $"the logger (pid {pid}) has ended and was reaped", TimeSpan.FromSeconds(20));
            File.ReadAllText(Path.Combine(dir, "stdout")).ShouldBe("to-stdout\nmore-stdout\n", s.Because(result));
            File.ReadAllText(Path.Combine(dir, "stderr")).ShouldBe("to-stderr\n", s.Because(result));
            File.ReadAllLines(Path.Combine(dir, "environ")).ShouldBe(
                [$"CONTAINER_ID={id}", $"CONTAINER_NAMESPACE={Harness.PrivateContainerd.Namespace}"], ignoreOrder: true);
            await s.ShouldLeaveNothingAsync(id);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task An_orphan_a_binary_logger_left_in_its_own_session_is_reaped_while_the_task_runs(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var id = s.NewId("orphan");
        var dir = Directory.CreateTempSubdirectory("cc-contract-orphan-").FullName;
        try
        {
            // The logger double-forks a short sleep into a session of its own: the shim (a subreaper) inherits it.
            var logger = Path.Combine(dir, "logger.sh");
            File.WriteAllText(logger, $"""
                #!/bin/sh
                ( /usr/bin/setsid /bin/sh -c 'echo $$ > {dir}/orphan.tmp; mv {dir}/orphan.tmp {dir}/orphan; exec /bin/sleep 1' & )
                exec 5>&-
                /bin/cat <&3 > /dev/null &
                /bin/cat <&4 > /dev/null
                wait
                """);
            File.SetUnixFileMode(logger, (UnixFileMode)Convert.ToInt32("755", 8));

            await s.RunDetachedWithAsync(["--log-uri", $"binary://{logger}"], id, "sleep", "1000");

            var pidFile = Path.Combine(dir, "orphan");
            await Bounded.UntilAsync(() => File.Exists(pidFile), "the logger's orphan wrote its pid", TimeSpan.FromSeconds(20));
            var orphan = int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            // A zombie keeps its /proc entry: gone means reaped, by the shim, while it still runs the task.
            await Bounded.UntilAsync(() => !ProcessExists(orphan), $"the orphan (pid {orphan}) was reaped", TimeSpan.FromSeconds(20));

            await s.KillRemoveAndLeaveNothingAsync(id);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task A_file_log_uri_gets_stdout_and_stderr_appended_to_one_file(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var id = s.NewId("filelog");
        var dir = Directory.CreateTempSubdirectory("cc-contract-filelog-").FullName;
        try
        {
            var log = Path.Combine(dir, "sub", "container.log");

            var result = await s.CtrAsync(["run", "--rm", "--log-uri", $"file://{log}", .. s.Runtime.RunOptions, s.Image, id,
                "sh", "-c", Short("echo to-stdout; echo to-stderr >&2")]);

            s.ShouldSucceed(result);
            File.ReadAllLines(log).ShouldBe(["to-stdout", "to-stderr"], ignoreOrder: true, s.Because(result));
            await s.ShouldLeaveNothingAsync(id);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// A logger as the protocol describes one: records its pid and initial environment, signals readiness by closing
    /// fd 5, then copies fd 3 and fd 4 to the files its "out" and "err" arguments name until both end. The arguments
    /// are read as key/value pairs, not by position: the runc shim flattens the URI query from a Go map, so its order
    /// varies from run to run.
    /// </summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private static string WriteCopyingLogger(string dir)
    {
        var script = Path.Combine(dir, "logger.sh");
        File.WriteAllText(script, $"""
            #!/bin/sh
            echo $$ > {dir}/pid
            /usr/bin/tr '\0' '\n' < /proc/$$/environ > {dir}/environ
            while [ $# -ge 2 ]; do
              case "$1" in out) out=$2 ;; err) err=$2 ;; esac
              shift 2
            done
            exec 5>&-
            /bin/cat <&3 > "$out" &
            /bin/cat <&4 > "$err"
            wait
            """);
        File.SetUnixFileMode(script, (UnixFileMode)Convert.ToInt32("755", 8));
        return script;
    }

    /// <summary>Running or a zombie (exited, not reaped) both count: either would be a leak.</summary>
    private static bool ProcessExists(int pid) => Directory.Exists($"/proc/{pid}");
}
