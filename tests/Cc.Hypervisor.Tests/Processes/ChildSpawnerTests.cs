using System.Globalization;
using Cc.Hypervisor.Native;
using Cc.Hypervisor.Processes;
using Cc.TestKit;
using Microsoft.Win32.SafeHandles;

namespace Cc.Hypervisor.Tests.Processes;

/// <summary>
/// The spawner's contract with real children: exactly the mapped descriptors, default signals, captured lines, exit
/// statuses, errno on a failed exec. A child's descriptors are read from /proc/&lt;pid&gt;/fd of a sleeping child, from
/// this process, so nothing the observer opens shows up in the list.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ChildSpawnerTests : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("cc-spawn-").FullName;
    private readonly List<ChildProcess> _children = [];

    private ChildProcess Spawn(SpawnOptions options)
    {
        ChildProcess child = ChildSpawner.Spawn(options);
        _children.Add(child);
        return child;
    }

    private ChildProcess Sleeper(IReadOnlyList<InheritedFd>? fds = null, bool capture = false) =>
        Spawn(new SpawnOptions { Executable = "/bin/sleep", Arguments = ["30"], Fds = fds ?? [], CaptureOutput = capture });

    private static int[] FdsOf(int pid) =>
        [.. Directory.GetFileSystemEntries($"/proc/{pid}/fd").Select(p => int.Parse(Path.GetFileName(p), CultureInfo.InvariantCulture)).Order()];

    [Fact]
    public void A_child_has_exactly_0_1_2_and_the_mapped_fds_even_while_we_hold_a_descriptor_without_close_on_exec()
    {
        // A descriptor of ours that would leak through a plain exec: opened without O_CLOEXEC.
        int leaky = LibC.open("/dev/null", LibC.O_RDONLY, 0);
        leaky.ShouldBeGreaterThan(2);
        using var leakyHandle = new SafeFileHandle(leaky, ownsHandle: true);
        LibC.IsCloseOnExec(leaky).ShouldBeFalse();
        var (read, write) = AnonymousPipe.Create();
        using (read)
        using (write)
        {
            ChildProcess child = Sleeper([new InheritedFd(3, read), new InheritedFd(7, write)]);

            FdsOf(child.Pid).ShouldBe([0, 1, 2, 3, 7]);
            File.ReadAllText($"/proc/{child.Pid}/fdinfo/3").ShouldContain("flags:\t0", customMessage: "fd 3 is a pipe end");
            new FileInfo($"/proc/{child.Pid}/fd/0").LinkTarget.ShouldBe("/dev/null");
            new FileInfo($"/proc/{child.Pid}/fd/3").LinkTarget.ShouldStartWith("pipe:[");
        }
    }

    [Fact]
    public void A_child_without_a_map_has_only_dev_null_on_0_1_2_and_with_capture_a_pipe_on_1_and_2()
    {
        ChildProcess plain = Sleeper();
        ChildProcess captured = Sleeper(capture: true);

        FdsOf(plain.Pid).ShouldBe([0, 1, 2]);
        new FileInfo($"/proc/{plain.Pid}/fd/2").LinkTarget.ShouldBe("/dev/null");
        FdsOf(captured.Pid).ShouldBe([0, 1, 2]);
        string stdout = new FileInfo($"/proc/{captured.Pid}/fd/1").LinkTarget!;
        stdout.ShouldStartWith("pipe:[");
        new FileInfo($"/proc/{captured.Pid}/fd/2").LinkTarget.ShouldBe(stdout, "stdout and stderr share one capture pipe");
    }

    [Fact]
    public async Task Sources_whose_numbers_are_each_others_targets_still_land_where_the_map_says()
    {
        string a = Path.Combine(_scratch, "a");
        string b = Path.Combine(_scratch, "b");
        File.WriteAllText(a, "");
        File.WriteAllText(b, "");
        // Put the two files at fixed numbers of ours, then cross them over: ours 200 -> child 201, ours 201 -> child 200.
        using var fileA = File.OpenHandle(a);
        using var fileB = File.OpenHandle(b);
        LibC.dup2((int)fileA.DangerousGetHandle(), 200).ShouldBe(200);
        LibC.dup2((int)fileB.DangerousGetHandle(), 201).ShouldBe(201);
        using var at200 = new SafeFileHandle(200, ownsHandle: true);
        using var at201 = new SafeFileHandle(201, ownsHandle: true);
        var lines = new List<string>();

        ChildProcess child = Spawn(new SpawnOptions
        {
            Executable = "/bin/sh",
            Arguments = ["-c", "readlink /proc/$$/fd/200; readlink /proc/$$/fd/201; ls /proc/$$/fd/"],
            Fds = [new InheritedFd(201, at200), new InheritedFd(200, at201)],
            CaptureOutput = true,
            OnOutputLine = lines.Add,
        });

        (await child.Exited.WithTimeout()).ShouldBe(0);
        lines[0].ShouldBe(b);
        lines[1].ShouldBe(a);
        // The shell's descriptors, listed by ls from outside: nothing but stdio and the two mapped ones.
        lines[2..].ShouldBe(["0", "1", "2", "200", "201"]);
    }

    [Fact]
    public void A_child_starts_with_an_empty_signal_mask_no_ignored_signals_and_its_own_process_group()
    {
        ChildProcess child = Sleeper();

        string[] status = File.ReadAllLines($"/proc/{child.Pid}/status");
        status.ShouldContain("SigBlk:\t0000000000000000");
        // Bits 31 and 32 are glibc's internal signals 32 and 33, which posix_spawn leaves to glibc.
        ulong ignored = ulong.Parse(status.Single(l => l.StartsWith("SigIgn:", StringComparison.Ordinal))[7..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        (ignored & ~0x1_8000_0000UL).ShouldBe(0UL, $"ignored signal mask {ignored:x}");
        string stat = File.ReadAllText($"/proc/{child.Pid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        int.Parse(fields[2], CultureInfo.InvariantCulture).ShouldBe(child.Pid, "the child leads a process group of its own");
    }

    [Fact]
    public async Task Captured_stdout_and_stderr_lines_reach_the_callback_in_order_and_the_tail()
    {
        var lines = new List<string>();

        ChildProcess child = Spawn(new SpawnOptions
        {
            Executable = "/bin/sh",
            Arguments = ["-c", "echo one; echo two >&2; echo three"],
            CaptureOutput = true,
            OnOutputLine = lines.Add,
        });

        (await child.Exited.WithTimeout()).ShouldBe(0);
        lines.ShouldBe(["one", "two", "three"]);
        child.Tail().ShouldBe(string.Join(Environment.NewLine, "one", "two", "three"));
    }

    [Fact]
    public async Task The_tail_keeps_only_the_last_lines()
    {
        ChildProcess child = Spawn(new SpawnOptions
        {
            Executable = "/bin/sh",
            Arguments = ["-c", "i=0; while [ $i -lt 50 ]; do echo line$i; i=$((i+1)); done"],
            CaptureOutput = true,
        });

        await child.Exited.WithTimeout();
        string[] tail = child.Tail().Split(Environment.NewLine);
        tail.Length.ShouldBe(ChildProcess.TailLines);
        tail[^1].ShouldBe("line49");
    }

    [Theory]
    [InlineData("exit 3", 3)]
    [InlineData("exit 0", 0)]
    [InlineData("kill -TERM $$", 128 + 15)]
    [InlineData("kill -KILL $$", 128 + 9)]
    public async Task The_exit_status_is_the_code_or_128_plus_the_signal_and_the_pid_is_collected(string script, int expected)
    {
        ChildProcess child = Spawn(new SpawnOptions { Executable = "/bin/sh", Arguments = ["-c", script] });

        (await child.Exited.WithTimeout()).ShouldBe(expected);
        child.HasExited.ShouldBeTrue();
        OwnChildren.Contains(child.Pid).ShouldBeFalse("the waiter reported the pid collected");
        Directory.Exists($"/proc/{child.Pid}").ShouldBeFalse("the zombie was reaped");
    }

    [Fact]
    public async Task Kill_ends_the_child_and_a_signal_after_the_reap_reaches_nobody()
    {
        ChildProcess child = Sleeper();

        child.Kill();

        (await child.Exited.WithTimeout()).ShouldBe(128 + 9);
        child.Signal(LibC.SIGTERM).ShouldBeFalse("the pid is no longer ours to signal");
        child.SignalGroup(LibC.SIGKILL).ShouldBeFalse();
    }

    [Fact]
    public void A_missing_executable_fails_the_spawn_with_ENOENT_and_registers_nothing()
    {
        var error = Should.Throw<ChildSpawnException>(() => ChildSpawner.Spawn(new SpawnOptions { Executable = "/nonexistent/qemu" }));

        error.Errno.ShouldBe(2);
        error.Message.ShouldBe("cannot start /nonexistent/qemu: No such file or directory (errno 2)");
    }

    [Fact]
    public void A_file_that_is_not_executable_fails_the_spawn_with_EACCES()
    {
        string file = Path.Combine(_scratch, "not-executable");
        File.WriteAllText(file, "#!/bin/sh\n");

        Should.Throw<ChildSpawnException>(() => ChildSpawner.Spawn(new SpawnOptions { Executable = file })).Errno.ShouldBe(13);
    }

    [Theory]
    [InlineData(3, 3, false, "unique")]
    [InlineData(-1, 4, false, "non-negative")]
    [InlineData(1, 4, true, "captured")]
    public void A_bad_fd_map_is_refused_before_anything_starts(int first, int second, bool capture, string expected)
    {
        using var handle = File.OpenHandle("/dev/null");

        Should.Throw<ArgumentException>(() => ChildSpawner.Spawn(new SpawnOptions
        {
            Executable = "/bin/true",
            Fds = [new InheritedFd(first, handle), new InheritedFd(second, handle)],
            CaptureOutput = capture,
        })).Message.ShouldContain(expected);
    }

    public void Dispose()
    {
        foreach (ChildProcess child in _children)
        {
            child.Kill();
            child.Exited.Wait(Bounded.Default);
            child.Dispose();
        }
        Directory.Delete(_scratch, recursive: true);
    }
}
