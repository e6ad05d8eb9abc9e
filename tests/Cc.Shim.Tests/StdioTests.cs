using Cc.Shim.Io;
using Cc.Shim.Sandbox;
using Cc.Shim.Tests.Fakes;
using Cc.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Shim.Tests;

/// <summary>What the stdio strings of Create/Exec name (protocol.md §3.7.2).</summary>
public sealed class StdioTargetTests
{
    [Fact]
    public void A_binary_uri_gives_the_logger_path_and_the_query_pairs_flattened_first_value_per_key()
    {
        var target = StdioTarget.Parse("binary:///usr/local/bin/my%20logger?b=2&a=1&b=3&c&d=x+y%26z");

        var binary = target.ShouldBeOfType<StdioTarget.Binary>();
        binary.Path.ShouldBe("/usr/local/bin/my logger");
        binary.Arguments.ShouldBe(["b", "2", "a", "1", "c", "", "d", "x y&z"]);
    }

    [Theory]
    [InlineData("", typeof(StdioTarget.None))]
    [InlineData("/run/x/c1-stdout", typeof(StdioTarget.Fifo))]
    [InlineData("fifo:///run/x/c1-stdout", typeof(StdioTarget.Fifo))]
    [InlineData("file:///var/log/c1.log", typeof(StdioTarget.File))]
    [InlineData("binary:///bin/logger", typeof(StdioTarget.Binary))]
    public void Each_scheme_names_its_kind_of_target(string value, Type kind) =>
        StdioTarget.Parse(value).ShouldBeOfType(kind);

    [Fact]
    public void An_unknown_scheme_is_bad_input_naming_the_scheme() =>
        Should.Throw<InvalidRequestException>(() => StdioTarget.Parse("tcp://1.2.3.4:5"))
            .Message.ShouldContain("unknown STDIO scheme tcp");

    [Fact]
    public void The_logger_environment_is_only_the_container_id_and_namespace() =>
        BinaryLogger.Environment("c1", "k8s.io").ShouldBe(new Dictionary<string, string>
        {
            ["CONTAINER_ID"] = "c1",
            ["CONTAINER_NAMESPACE"] = "k8s.io",
        });
}

/// <summary>Real logger processes: small shell scripts spawned the way the shim spawns any binary:// logger.</summary>
public sealed class BinaryLoggerTests : IDisposable
{
    private static readonly ProcessKey C1 = new("c1", "");
    private static readonly BinaryLoggerTimeouts s_short = new()
    {
        Ready = TimeSpan.FromSeconds(8),
        ExitGrace = TimeSpan.FromMilliseconds(300),
        Terminate = TimeSpan.FromMilliseconds(500),
    };

    private readonly string _root = Directory.CreateTempSubdirectory("cc-logger-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>
    /// The reference test logger: records argv and its initial environment, signals readiness by closing fd 5, then
    /// copies fd 3 and fd 4 to the files named by its "out" and "err" arguments until both reach end of file.
    /// </summary>
    private string CopyingLogger()
    {
        var script = Path.Combine(_root, "copy-logger.sh");
        File.WriteAllText(script, $"""
            #!/bin/sh
            printf '%s\n' "$@" > {_root}/argv
            /usr/bin/tr '\0' '\n' < /proc/$$/environ > {_root}/environ
            exec 5>&-
            /bin/cat <&3 > "$2" &
            /bin/cat <&4 > "$4"
            wait
            """);
        File.SetUnixFileMode(script, (UnixFileMode)Convert.ToInt32("755", 8));
        return script;
    }

    private string Script(string name, string body)
    {
        var script = Path.Combine(_root, name);
        File.WriteAllText(script, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(script, (UnixFileMode)Convert.ToInt32("755", 8));
        return script;
    }

    private static bool Alive(int pid) => Cc.Hypervisor.Native.LibC.kill(pid, 0) == 0;

    [Fact]
    public async Task Guest_stdout_and_stderr_arrive_in_the_logger_which_gets_its_argv_and_environment_and_is_reaped()
    {
        var uri = $"binary://{CopyingLogger()}?out={_root}/out.txt&err={_root}/err.txt";
        await using var vm = new FakeVm(new FakeEngine(), 1);
        await vm.CreateContainerAsync("c1");
        vm.QueueOutput(C1, StdioStream.Stdout, "line one\n");
        vm.QueueOutput(C1, StdioStream.Stderr, "an error\n");
        vm.QueueOutput(C1, StdioStream.Stdout, "line two\n");

        var io = await ProcessIo.StartAsync(C1, new StdioSpec("", uri, uri, false), vm.Agent, "k8s.io", NullLogger.Instance,
            CancellationToken.None, s_short).WithTimeout();
        vm.Exit(C1, 0);
        await io.OutputDrained.WithTimeout();
        await io.DisposeAsync().WithTimeout();

        File.ReadAllText(Path.Combine(_root, "out.txt")).ShouldBe("line one\nline two\n");
        File.ReadAllText(Path.Combine(_root, "err.txt")).ShouldBe("an error\n");
        File.ReadAllLines(Path.Combine(_root, "argv")).ShouldBe(["out", $"{_root}/out.txt", "err", $"{_root}/err.txt"]);
        File.ReadAllLines(Path.Combine(_root, "environ")).ShouldBe(["CONTAINER_ID=c1", "CONTAINER_NAMESPACE=k8s.io"],
            ignoreOrder: true);
    }

    [Fact]
    public async Task A_logger_holds_exactly_stdio_and_its_two_output_pipes_once_it_closed_fd_5()
    {
        // The shell's own descriptors (dash keeps its script on fd 10 and saves fds above it) go at the exec.
        var script = Script("fd-logger.sh", "exec 5>&-\nexec /bin/sleep 30");
        var target = (StdioTarget.Binary)StdioTarget.Parse($"binary://{script}");
        var logger = await BinaryLogger.StartAsync(target, "c1", "default", s_short, NullLogger.Instance, CancellationToken.None)
            .WithTimeout();
        try
        {
            await Procfs.UntilSleepingAsync(logger.Pid);
            // Read from outside: none of the shim's descriptors reached it.
            Procfs.Fds(logger.Pid).ShouldBe([0, 1, 2, 3, 4]);
            new FileInfo($"/proc/{logger.Pid}/fd/3").LinkTarget.ShouldStartWith("pipe:[");
            new FileInfo($"/proc/{logger.Pid}/fd/1").LinkTarget.ShouldBe("/dev/null");
        }
        finally
        {
            await logger.DisposeAsync().WithTimeout();
        }
    }

    [Fact]
    public async Task The_logger_sees_end_of_file_when_the_streams_end_and_exits_before_delete()
    {
        var target = (StdioTarget.Binary)StdioTarget.Parse($"binary://{CopyingLogger()}?out={_root}/o&err={_root}/e");
        var logger = await BinaryLogger.StartAsync(target, "c1", "default", s_short, NullLogger.Instance, CancellationToken.None)
            .WithTimeout();
        await logger.Stdout.WriteAsync("x"u8.ToArray());

        await logger.Stdout.DisposeAsync();
        await logger.Stderr.DisposeAsync();

        (await logger.Exited.WithTimeout()).ShouldBe(0);
        Alive(logger.Pid).ShouldBeFalse("reaped, not a zombie");
        File.ReadAllText(Path.Combine(_root, "o")).ShouldBe("x");
        await logger.DisposeAsync().WithTimeout();
    }

    [Fact]
    public async Task A_logger_that_ignores_end_of_file_and_sigterm_is_killed_with_its_children_and_reaped()
    {
        var child = Path.Combine(_root, "child.pid");
        var script = Script("stubborn.sh", $"trap '' TERM; exec 5>&-; /bin/sleep 300 & echo $! > {child}; while :; do /bin/sleep 1; done");
        var logger = await BinaryLogger.StartAsync(new StdioTarget.Binary(script, []), "c1", "default", s_short,
            NullLogger.Instance, CancellationToken.None).WithTimeout();
        await Bounded.UntilAsync(() => File.Exists(child) && File.ReadAllText(child).Trim().Length > 0, "the logger started a child");
        var childPid = int.Parse(File.ReadAllText(child).Trim());

        await logger.DisposeAsync().WithTimeout();

        (await logger.Exited.WithTimeout()).ShouldBe(128 + 9);
        Alive(logger.Pid).ShouldBeFalse();
        // The child was in the logger's process group; it got the SIGTERM. (It is not ours to reap: it is the test
        // runner's orphan now, so only "no longer running" is checked.)
        await Bounded.UntilAsync(() => !File.Exists($"/proc/{childPid}/stat") || File.ReadAllText($"/proc/{childPid}/stat").Contains(") Z "),
            "the logger's child ended");
    }

    [Fact]
    public async Task A_logger_that_never_signals_readiness_fails_the_start_and_is_not_left_running()
    {
        var marker = Guid.NewGuid().ToString("N");
        var script = Script("silent.sh", "exec /bin/sleep 300");
        var timeouts = s_short with { Ready = TimeSpan.FromMilliseconds(500) };

        var error = await Should.ThrowAsync<PreconditionFailedException>(BinaryLogger.StartAsync(
            new StdioTarget.Binary(script, [marker]), "c1", "default", timeouts, NullLogger.Instance, CancellationToken.None)
            .WithTimeout());

        error.Message.ShouldContain("did not signal readiness on fd 5");
        var pid = int.Parse(error.Message.Split("(pid ")[1].Split(')')[0]);
        Alive(pid).ShouldBeFalse("killed and reaped");
    }

    [Fact]
    public async Task A_logger_that_dies_while_starting_fails_the_start_with_its_status()
    {
        var script = Script("dies.sh", "exit 3");

        var error = await Should.ThrowAsync<PreconditionFailedException>(BinaryLogger.StartAsync(
            new StdioTarget.Binary(script, []), "c1", "default", s_short, NullLogger.Instance, CancellationToken.None)
            .WithTimeout());

        error.Message.ShouldContain("exited with status 3");
    }

    [Fact]
    public async Task A_missing_logger_is_bad_input_naming_the_path()
    {
        var missing = Path.Combine(_root, "no-such-logger");

        var error = await Should.ThrowAsync<InvalidRequestException>(BinaryLogger.StartAsync(
            new StdioTarget.Binary(missing, []), "c1", "default", s_short, NullLogger.Instance, CancellationToken.None)
            .WithTimeout());

        error.Message.ShouldContain(missing);
        error.Message.ShouldContain("No such file or directory");
    }

    [Fact]
    public async Task A_binary_stdout_with_a_different_stderr_is_refused_before_anything_starts()
    {
        await using var vm = new FakeVm(new FakeEngine(), 1);

        var error = await Should.ThrowAsync<InvalidRequestException>(ProcessIo.StartAsync(C1,
            new StdioSpec("", $"binary://{CopyingLogger()}", "/run/x/c1-stderr", false), vm.Agent, "k8s.io", NullLogger.Instance,
            CancellationToken.None, s_short).WithTimeout());

        error.Message.ShouldContain("same binary logger");
        File.Exists(Path.Combine(_root, "argv")).ShouldBeFalse("the logger never ran");
    }
}
