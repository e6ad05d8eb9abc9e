using System.Text;
using Cc.Agent.Processes;
using Cc.Agent.Protocol.V1;
using Cc.Agent.Tests.Fixtures;
using Cc.Ttrpc;
using Google.Protobuf;

namespace Cc.Agent.Tests;

// The agent over the wire: AgentClient -> ttrpc on a unix socket -> AgentService -> crun on this host.
public sealed class AgentServiceTests : IAsyncLifetime
{
    private AgentOverTtrpc _agent = null!;

    public async Task InitializeAsync() => _agent = await AgentOverTtrpc.StartAsync();

    public async Task DisposeAsync() => await _agent.DisposeAsync();

    [Fact]
    public async Task Check_answers_ready_and_guest_details_name_the_kernel()
    {
        (await _agent.Client.CheckAsync(new CheckRequest())).Ready.ShouldBeTrue();
        var details = await _agent.Client.GetGuestDetailsAsync(new GetGuestDetailsRequest());
        details.KernelRelease.ShouldBe(File.ReadAllText("/proc/sys/kernel/osrelease").Trim());
        details.AgentVersion.ShouldNotBeNullOrEmpty();
    }

    [Fact]
    public async Task A_container_that_echoes_and_exits_3_gives_its_stdout_and_status_3()
    {
        var pid = await _agent.RunAsync("echo3", BusyboxBundle.Spec("sh", "-c", "echo hi; echo oops >&2; exit 3"));

        (await _agent.ReadTextToEndAsync("echo3")).ShouldBe("hi\n");
        (await _agent.ReadTextToEndAsync("echo3", stderr: true)).ShouldBe("oops\n");
        var exit = await _agent.WaitAsync("echo3");
        exit.ExitStatus.ShouldBe(3u);
        exit.Pid.ShouldBe(pid);
        exit.ExitedAt.ToDateTimeOffset().ShouldBeGreaterThan(DateTimeOffset.UtcNow.AddMinutes(-1));
    }

    [Fact]
    public async Task A_container_killed_with_SIGKILL_exits_137_and_every_waiter_sees_it()
    {
        await _agent.RunAsync("killed", BusyboxBundle.Spec("sleep", "100"));
        var waiters = Enumerable.Range(0, 3).Select(_ => _agent.WaitAsync("killed")).ToArray();

        await _agent.SignalAsync("killed", 9);

        foreach (var waiter in waiters)
        {
            (await waiter).ExitStatus.ShouldBe(137u);
        }

        (await _agent.WaitAsync("killed")).ExitStatus.ShouldBe(137u);
        var again = await Should.ThrowAsync<TtrpcException>(() => _agent.SignalAsync("killed", 9));
        again.Code.ShouldBe(StatusCode.NotFound);
    }

    [Fact]
    public async Task An_exec_runs_inside_the_running_container_with_its_own_output_and_status()
    {
        await _agent.RunAsync("host", BusyboxBundle.Spec("sh", "-c", "echo ready > /tmp/mark; sleep 100"));

        await _agent.ExecAsync("host", "e1", terminal: false, stdin: false, "sh", "-c", "sleep 0.2; cat /tmp/mark; hostname 2>/dev/null || cat /proc/sys/kernel/hostname; exit 5");

        (await _agent.ReadTextToEndAsync("host", "e1")).ShouldBe("ready\nbusybox\n");
        (await _agent.WaitAsync("host", "e1")).ExitStatus.ShouldBe(5u);
        var duplicate = await Should.ThrowAsync<TtrpcException>(() => _agent.ExecAsync("host", "e1", false, false, "true"));
        duplicate.Code.ShouldBe(StatusCode.AlreadyExists);
    }

    [Fact]
    public async Task DeleteProcess_refuses_a_running_exec_and_frees_the_id_of_an_exited_one_for_a_new_exec()
    {
        await _agent.RunAsync("host", BusyboxBundle.Spec("sleep", "100"));
        await _agent.ExecAsync("host", "e1", terminal: false, stdin: false, "sleep", "100");

        (await Should.ThrowAsync<TtrpcException>(() => DeleteProcessAsync("host", "e1"))).Code.ShouldBe(StatusCode.FailedPrecondition);
        (await Should.ThrowAsync<TtrpcException>(() => DeleteProcessAsync("host", ""))).Code.ShouldBe(StatusCode.InvalidArgument);
        await _agent.SignalAsync("host", 9, "e1");
        (await _agent.WaitAsync("host", "e1")).ExitStatus.ShouldBe(137u);
        await DeleteProcessAsync("host", "e1");

        (await Should.ThrowAsync<TtrpcException>(() => _agent.WaitAsync("host", "e1"))).Code.ShouldBe(StatusCode.NotFound);
        (await Should.ThrowAsync<TtrpcException>(() => DeleteProcessAsync("host", "e1"))).Code.ShouldBe(StatusCode.NotFound);
        await _agent.ExecAsync("host", "e1", terminal: false, stdin: false, "sh", "-c", "echo again; exit 4");
        (await _agent.ReadTextToEndAsync("host", "e1")).ShouldBe("again\n", "the id runs a new exec once the old one is deleted");
        (await _agent.WaitAsync("host", "e1")).ExitStatus.ShouldBe(4u);
    }

    private Task DeleteProcessAsync(string id, string execId) =>
        _agent.Client.DeleteProcessAsync(new DeleteProcessRequest { ContainerId = id, ExecId = execId }).WaitAsync(AgentOverTtrpc.Timeout);

    [Fact]
    public async Task Stdin_written_to_cat_is_read_back_and_closing_it_ends_the_process()
    {
        await _agent.RunAsync("cat", BusyboxBundle.Spec("cat"), stdin: true);

        await _agent.WriteAsync("cat", "hello\n");
        await _agent.WriteAsync("cat", "world\n");
        await _agent.CloseStdinAsync("cat");

        (await _agent.ReadTextToEndAsync("cat")).ShouldBe("hello\nworld\n");
        (await _agent.WaitAsync("cat")).ExitStatus.ShouldBe(0u);
    }

    [Fact]
    public async Task A_terminal_process_sees_the_size_set_by_ResizePty()
    {
        await _agent.RunAsync("tty", BusyboxBundle.Spec("sh", "-c", "read line; stty size; exit 7"), terminal: true, stdin: true);

        await _agent.Client.ResizePtyAsync(new ResizePtyRequest { ContainerId = "tty", Columns = 123, Rows = 45 })
            .WaitAsync(AgentOverTtrpc.Timeout);
        await _agent.WriteAsync("tty", "go\n");

        var output = await _agent.ReadTextToEndAsync("tty");
        output.ShouldContain("45 123");
        (await _agent.ReadTextToEndAsync("tty", stderr: true)).ShouldBeEmpty();
        (await _agent.WaitAsync("tty")).ExitStatus.ShouldBe(7u);
    }

    [Fact]
    public async Task A_terminal_exec_gets_its_own_pty()
    {
        await _agent.RunAsync("ttyhost", BusyboxBundle.Spec("sleep", "100"));

        await _agent.ExecAsync("ttyhost", "t1", terminal: true, stdin: false, "sh", "-c", "tty; exit 2");

        (await _agent.ReadTextToEndAsync("ttyhost", "t1")).ShouldContain("/dev/pts/");
        (await _agent.WaitAsync("ttyhost", "t1")).ExitStatus.ShouldBe(2u);
    }

    [Fact]
    public async Task Ten_megabytes_of_output_arrive_complete_and_the_exit_waits_for_them()
    {
        const int count = 1_500_000;
        var expected = new StringBuilder();
        for (var i = 1; i <= count; i++)
        {
            expected.Append(i).Append('\n');
        }

        await _agent.RunAsync("big", BusyboxBundle.Spec("seq", "1", count.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        long read = 0;
        var wait = _agent.Client.WaitProcessAsync(new WaitProcessRequest { ContainerId = "big" });
        var readWhenExited = wait.ContinueWith(_ => Interlocked.Read(ref read), TaskScheduler.Default);

        var output = await _agent.ReadToEndAsync("big", chunk: 64 * 1024, progress: n => Interlocked.Exchange(ref read, n));

        output.Length.ShouldBe(expected.Length);
        Encoding.ASCII.GetString(output).ShouldBe(expected.ToString());
        (await wait.WaitAsync(AgentOverTtrpc.Timeout)).ExitStatus.ShouldBe(0u);
        // Back-pressure: the process could not finish (and the exit was not reported) while more than the agent's
        // bounded buffer was still unread: its buffered chunks, the partly read one, and the host's read in flight
        // (the pipe is empty by then: the exit waits for its end of input).
        var bound = (OutputPump.MaxBufferedChunks + 1) * OutputPump.ReadSize + 64 * 1024;
        (await readWhenExited.WaitAsync(AgentOverTtrpc.Timeout)).ShouldBeGreaterThan(expected.Length - bound);
    }

    [Fact]
    public async Task ListProcesses_names_the_init_and_the_exec_with_their_command_lines()
    {
        var initPid = await _agent.RunAsync("ps", BusyboxBundle.Spec("sleep", "100"));
        var exec = await _agent.ExecAsync("ps", "e2", false, false, "sleep", "99");

        var list = await _agent.Client.ListProcessesAsync(new ListProcessesRequest { ContainerId = "ps" }).WaitAsync(AgentOverTtrpc.Timeout);

        list.Processes.Select(p => p.Pid).ShouldBe(new[] { initPid, exec.Pid }, ignoreOrder: true);
        list.Processes.Single(p => p.Pid == initPid).CommandLine.ShouldBe("sleep 100");
        var execEntry = list.Processes.Single(p => p.Pid == exec.Pid);
        execEntry.CommandLine.ShouldBe("sleep 99");
        execEntry.ExecId.ShouldBe("e2");
    }

    [Fact]
    public async Task SignalProcess_with_all_kills_every_process_of_the_container()
    {
        await _agent.RunAsync("all", BusyboxBundle.Spec("sleep", "100"));
        await _agent.ExecAsync("all", "e3", false, false, "sleep", "98");

        await _agent.SignalAsync("all", 9, all: true);

        (await _agent.WaitAsync("all")).ExitStatus.ShouldBe(137u);
        (await _agent.WaitAsync("all", "e3")).ExitStatus.ShouldBe(137u);
    }

    [Fact]
    public async Task RemoveContainer_kills_a_running_container_and_forgets_it()
    {
        await _agent.RunAsync("gone", BusyboxBundle.Spec("sleep", "100"));

        await _agent.Client.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = "gone" }).WaitAsync(AgentOverTtrpc.Timeout);

        Directory.Exists(Path.Combine(_agent.World.Options.ContainersDirectory, "gone")).ShouldBeFalse();
        var error = await Should.ThrowAsync<TtrpcException>(() => _agent.WaitAsync("gone"));
        error.Code.ShouldBe(StatusCode.NotFound);
    }
}
