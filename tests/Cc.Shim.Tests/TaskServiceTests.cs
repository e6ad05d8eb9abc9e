using Cc.Containerd.Protocol;
using Cc.Containerd.Protocol.Cgroups.V2;
using Cc.Containerd.Protocol.Events;
using Cc.Containerd.Protocol.Tasks;
using Cc.Containerd.Protocol.Types;
using Cc.Shim.Sandbox;
using Cc.Shim.Tests.Fakes;
using Cc.TestKit;
using Cc.Ttrpc;
using Google.Protobuf;

namespace Cc.Shim.Tests;

/// <summary>The Task service through a real ttrpc connection, against fake VM/agent seams.</summary>
public sealed class TaskServiceTests
{
    private static readonly ProcessKey C1 = new("c1", "");

    [Fact]
    public async Task A_container_lifecycle_publishes_create_start_exit_delete_in_that_order()
    {
        await using var shim = await ShimHarness.StartAsync();

        var created = await shim.CreateAsync("c1");
        created.Pid.ShouldBe((uint)shim.Vm.Pid);
        var started = await shim.Tasks.StartAsync(new StartRequest { Id = "c1" }).WithTimeout();
        started.Pid.ShouldBe((uint)shim.Vm.Pid);
        shim.Vm.Exit(C1, 3);
        var waited = await shim.Tasks.WaitAsync(new WaitRequest { Id = "c1" }).WithTimeout();
        waited.ExitStatus.ShouldBe(3u);
        var deleted = await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1" }).WithTimeout();
        deleted.ExitStatus.ShouldBe(3u);
        await shim.EventsArrivedAsync(4);

        shim.Containerd.Topics.ShouldBe(["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"]);
        var exit = shim.Containerd.Received.ElementAt(2).Envelope;
        exit.Event.TypeUrl.ShouldBe("containerd.events.TaskExit");
        exit.Namespace.ShouldBe("k8s.io");
        var payload = TaskExit.Parser.ParseFrom(exit.Event.Value);
        payload.ContainerId.ShouldBe("c1");
        payload.Id.ShouldBe("c1");
        payload.ExitStatus.ShouldBe(3u);
        shim.Containerd.Received.ShouldAllBe(r => r.NamespaceKey == "k8s.io");
    }

    [Fact]
    public async Task Wait_blocks_until_the_exit_and_answers_every_waiter_with_exited_at()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");

        var first = shim.Tasks.WaitAsync(new WaitRequest { Id = "c1" });
        var second = shim.Tasks.WaitAsync(new WaitRequest { Id = "c1" });
        await Task.Delay(100);
        first.IsCompleted.ShouldBeFalse();

        shim.Vm.Exit(C1, 0);
        var a = await first.WithTimeout();
        var b = await second.WithTimeout();
        a.ExitedAt.Seconds.ShouldBe(1_700_000_000);
        b.ExitStatus.ShouldBe(0u);
        // After the exit, Wait answers at once until the process is deleted.
        (await shim.Tasks.WaitAsync(new WaitRequest { Id = "c1" }).WithTimeout()).ExitedAt.Seconds.ShouldBe(1_700_000_000);
    }

    [Fact]
    public async Task Kill_of_a_running_process_reaches_the_guest_and_Kill_after_exit_is_NotFound()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");

        await shim.Tasks.KillAsync(new KillRequest { Id = "c1", Signal = 9, All = true }).WithTimeout();
        (await shim.Tasks.WaitAsync(new WaitRequest { Id = "c1" }).WithTimeout()).ExitStatus.ShouldBe(137u);
        shim.Fake.Calls.ShouldContain("signal c1 9 all=True");

        var error = await Should.ThrowAsync<TtrpcException>(
            shim.Tasks.KillAsync(new KillRequest { Id = "c1", Signal = 15 }).WithTimeout());
        error.Code.ShouldBe(StatusCode.NotFound);
        error.Message.ShouldContain("process already finished");
    }

    [Fact]
    public async Task State_reports_created_running_and_stopped_with_Go_zero_time_until_the_exit()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateAsync("c1", stdout: "");

        var created = await shim.Tasks.StateAsync(new StateRequest { Id = "c1" }).WithTimeout();
        created.Status.ShouldBe(Status.Created);
        created.Id.ShouldBe("c1");
        created.ExitedAt.Seconds.ShouldBe(GoTime.ZeroSeconds);

        await shim.Tasks.StartAsync(new StartRequest { Id = "c1" }).WithTimeout();
        (await shim.Tasks.StateAsync(new StateRequest { Id = "c1" }).WithTimeout()).Status.ShouldBe(Status.Running);

        await shim.ExitedAsync(C1, 2);
        var stopped = await shim.Tasks.StateAsync(new StateRequest { Id = "c1" }).WithTimeout();
        stopped.Status.ShouldBe(Status.Stopped);
        stopped.ExitStatus.ShouldBe(2u);
        stopped.ExitedAt.Seconds.ShouldBe(1_700_000_000);
    }

    [Fact]
    public async Task Deleting_a_running_container_is_the_invalid_state_transition_error()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");

        var error = await Should.ThrowAsync<TtrpcException>(shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1" }).WithTimeout());
        error.Code.ShouldBe(StatusCode.FailedPrecondition);
        error.Message.ShouldContain("invalid state transition: Running => Deleted");
    }

    [Fact]
    public async Task Starting_twice_is_the_invalid_state_transition_error()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");

        var error = await Should.ThrowAsync<TtrpcException>(shim.Tasks.StartAsync(new StartRequest { Id = "c1" }).WithTimeout());
        error.Code.ShouldBe(StatusCode.FailedPrecondition);
        error.Message.ShouldContain("invalid state transition: Running => Running");
    }

    [Fact]
    public async Task A_container_deleted_before_start_publishes_create_then_delete_only()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateAsync("c1");
        await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1" }).WithTimeout();
        await shim.EventsArrivedAsync(2);

        shim.Containerd.Topics.ShouldBe(["/tasks/create", "/tasks/delete"]);
        shim.Vm.Stopped.ShouldBeTrue("the last container's delete stops the VM");
    }

    [Fact]
    public async Task Unknown_ids_are_NotFound_duplicate_ids_AlreadyExists_and_second_delete_NotFound()
    {
        await using var shim = await ShimHarness.StartAsync();

        (await Should.ThrowAsync<TtrpcException>(shim.Tasks.StateAsync(new StateRequest { Id = "nope" }).WithTimeout()))
            .Code.ShouldBe(StatusCode.NotFound);
        await shim.CreateAsync("c1");
        (await Should.ThrowAsync<TtrpcException>(shim.CreateAsync("c1"))).Code.ShouldBe(StatusCode.AlreadyExists);
        (await Should.ThrowAsync<TtrpcException>(shim.Tasks.StateAsync(new StateRequest { Id = "c1", ExecId = "e9" }).WithTimeout()))
            .Code.ShouldBe(StatusCode.NotFound);
        await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1" }).WithTimeout();
        (await Should.ThrowAsync<TtrpcException>(shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1" }).WithTimeout()))
            .Code.ShouldBe(StatusCode.NotFound);
    }

    [Fact]
    public async Task Exec_publishes_added_and_started_and_its_exit_precedes_the_init_exit()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");
        var spec = TypeUrls.PackRaw(TypeUrls.OciProcess, ByteString.CopyFromUtf8("""{"args":["sleep","9"]}"""));
        await shim.Tasks.ExecAsync(new ExecProcessRequest { Id = "c1", ExecId = "e1", Spec = spec }).WithTimeout();
        (await Should.ThrowAsync<TtrpcException>(
            shim.Tasks.ExecAsync(new ExecProcessRequest { Id = "c1", ExecId = "e1", Spec = spec }).WithTimeout()))
            .Code.ShouldBe(StatusCode.AlreadyExists);
        await shim.Tasks.StartAsync(new StartRequest { Id = "c1", ExecId = "e1" }).WithTimeout();

        // The init dies while the exec runs: the shim kills the exec and publishes its exit first.
        await shim.ExitedAsync(C1, 0);
        await shim.EventsArrivedAsync(6);

        shim.Containerd.Topics.ShouldBe(["/tasks/create", "/tasks/start", "/tasks/exec-added", "/tasks/exec-started",
            "/tasks/exit", "/tasks/exit"]);
        var exits = shim.Containerd.Received.Skip(4).Select(r => TaskExit.Parser.ParseFrom(r.Envelope.Event.Value)).ToList();
        exits[0].Id.ShouldBe("e1");
        exits[0].ExitStatus.ShouldBe(137u);
        exits[1].Id.ShouldBe("c1");
        shim.Fake.Calls.ShouldContain(c => c.StartsWith("exec c1/e1 {\"args\":[\"sleep\",\"9\"]}"));
    }

    [Fact]
    public async Task Exec_with_a_spec_that_is_not_OCI_process_JSON_is_InvalidArgument()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");

        var error = await Should.ThrowAsync<TtrpcException>(shim.Tasks.ExecAsync(new ExecProcessRequest
        {
            Id = "c1", ExecId = "e1", Spec = TypeUrls.Pack(new Google.Protobuf.WellKnownTypes.Empty()),
        }).WithTimeout());
        error.Code.ShouldBe(StatusCode.InvalidArgument);
    }

    [Fact]
    public async Task Pids_lists_guest_processes_and_Connect_answers_the_shim_and_task_pids()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateAsync("c1");

        var pids = await shim.Tasks.PidsAsync(new PidsRequest { Id = "c1" }).WithTimeout();
        pids.Processes.Select(p => p.Pid).ShouldBe([1u, 12u]);
        pids.Processes[0].Info.ShouldBeNull("the init has no exec id, as under runc");
        pids.Processes[1].Info.TypeUrl.ShouldBe("containerd.runc.v1.ProcessDetails");
        Cc.Containerd.Protocol.Runc.ProcessDetails.Parser.ParseFrom(pids.Processes[1].Info.Value).ExecId.ShouldBe("e1");
        var connect = await shim.Tasks.ConnectAsync(new ConnectRequest { Id = "c1" }).WithTimeout();
        connect.ShimPid.ShouldBe((uint)Environment.ProcessId);
        connect.TaskPid.ShouldBe((uint)shim.Vm.Pid);
        (await shim.Tasks.ConnectAsync(new ConnectRequest { Id = "unknown" }).WithTimeout()).TaskPid.ShouldBe(0u);
    }

    [Fact]
    public async Task Pids_in_dockerds_namespace_answers_the_vmm_pid_which_docker_top_can_show()
    {
        await using var shim = await ShimHarness.StartAsync(ns: "moby");
        await shim.CreateAsync("c1");

        var pids = await shim.Tasks.PidsAsync(new PidsRequest { Id = "c1" }).WithTimeout();

        pids.Processes.Select(p => p.Pid).ShouldBe([(uint)shim.Vm.Pid]);
    }

    [Fact]
    public async Task Stats_are_cgroup_v2_metrics_under_a_bare_type_url()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateAsync("c1");

        var stats = await shim.Tasks.StatsAsync(new StatsRequest { Id = "c1" }).WithTimeout();
        stats.Stats.TypeUrl.ShouldBe("io.containerd.cgroups.v2.Metrics");
        var metrics = Metrics.Parser.ParseFrom(stats.Stats.Value);
        metrics.Cpu.UsageUsec.ShouldBe(1000ul);
        metrics.Memory.Usage.ShouldBe(4096ul);
        metrics.Memory.InactiveFile.ShouldBe(1024ul);
        metrics.Memory.Anon.ShouldBe(2048ul);
        metrics.Memory.Pgfault.ShouldBe(77ul);
        metrics.Memory.SwapLimit.ShouldBe(ulong.MaxValue);
        metrics.Cpu.NrThrottled.ShouldBe(2ul);
        metrics.Pids.Current.ShouldBe(3ul);
        metrics.Pids.Limit.ShouldBe(100ul);
        metrics.MemoryEvents.Oom.ShouldBe(2ul);
        metrics.MemoryEvents.OomKill.ShouldBe(1ul);
    }

    [Fact]
    public async Task Update_passes_the_LinuxResources_json_to_the_guest_and_refuses_other_payloads()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateAsync("c1");
        const string json = "{\"memory\":{\"limit\":104857600}}";

        await shim.Tasks.UpdateAsync(new UpdateTaskRequest
        {
            Id = "c1",
            Resources = TypeUrls.PackRaw(TypeUrls.OciLinuxResources, ByteString.CopyFromUtf8(json)),
        }).WithTimeout();

        shim.Vm.Updates.ShouldBe([("c1", json)]);
        (await Should.ThrowAsync<TtrpcException>(shim.Tasks.UpdateAsync(new UpdateTaskRequest { Id = "c1" }).WithTimeout()))
            .Code.ShouldBe(StatusCode.InvalidArgument);
        (await Should.ThrowAsync<TtrpcException>(shim.Tasks.UpdateAsync(new UpdateTaskRequest
        {
            Id = "c1",
            Resources = TypeUrls.PackRaw("types.containerd.io/opencontainers/runtime-spec/1/WindowsResources", ByteString.CopyFromUtf8("{}")),
        }).WithTimeout())).Code.ShouldBe(StatusCode.InvalidArgument);
        (await Should.ThrowAsync<TtrpcException>(shim.Tasks.UpdateAsync(new UpdateTaskRequest
        {
            Id = "nope",
            Resources = TypeUrls.PackRaw(TypeUrls.OciLinuxResources, ByteString.CopyFromUtf8(json)),
        }).WithTimeout())).Code.ShouldBe(StatusCode.NotFound);
    }

    [Fact]
    public async Task Update_of_a_stopped_container_is_FailedPrecondition()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");
        await shim.ExitedAsync(C1, 137);

        var error = await Should.ThrowAsync<TtrpcException>(shim.Tasks.UpdateAsync(new UpdateTaskRequest
        {
            Id = "c1",
            Resources = TypeUrls.PackRaw(TypeUrls.OciLinuxResources, ByteString.CopyFromUtf8("{}")),
        }).WithTimeout());

        error.Code.ShouldBe(StatusCode.FailedPrecondition);
        error.Message.ShouldContain("stopped");
        shim.Vm.Updates.ShouldBeEmpty();
    }

    [Fact]
    public async Task An_oom_kill_in_the_guest_publishes_tasks_oom_for_a_known_container_only()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");
        await shim.EventsArrivedAsync(2);

        await shim.Vm.OomKills.Writer.WriteAsync("gone-already");
        await shim.Vm.OomKills.Writer.WriteAsync("c1");
        await shim.EventsArrivedAsync(3);

        shim.Containerd.Topics.ShouldBe(["/tasks/create", "/tasks/start", "/tasks/oom"]);
        TaskOOM.Parser.ParseFrom(shim.Containerd.Received.ElementAt(2).Envelope.Event.Value).ContainerId.ShouldBe("c1");
    }

    [Fact]
    public async Task Pause_and_resume_move_the_state_and_publish_paused_and_resumed()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");

        await shim.Tasks.PauseAsync(new PauseRequest { Id = "c1" }).WithTimeout();
        (await shim.Tasks.StateAsync(new StateRequest { Id = "c1" }).WithTimeout()).Status.ShouldBe(Status.Paused);
        await shim.Tasks.ResumeAsync(new ResumeRequest { Id = "c1" }).WithTimeout();
        (await shim.Tasks.StateAsync(new StateRequest { Id = "c1" }).WithTimeout()).Status.ShouldBe(Status.Running);
        await shim.EventsArrivedAsync(4);
        shim.Containerd.Topics.Skip(2).ShouldBe(["/tasks/paused", "/tasks/resumed"]);
    }

    [Fact]
    public async Task Checkpoint_is_Unimplemented_with_a_reason()
    {
        await using var shim = await ShimHarness.StartAsync();
        var checkpoint = await Should.ThrowAsync<TtrpcException>(
            shim.Tasks.CheckpointAsync(new CheckpointTaskRequest { Id = "c1" }).WithTimeout());
        checkpoint.Code.ShouldBe(StatusCode.Unimplemented);
        checkpoint.Message.ShouldContain("not supported");
    }

    [Fact]
    public async Task Shutdown_keeps_the_daemon_while_a_container_lives_and_ends_it_when_none_remain()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateAsync("c1");

        await shim.Tasks.ShutdownAsync(new ShutdownRequest { Id = "c1" }).WithTimeout();
        await Task.Delay(200);
        shim.Daemon.IsCompleted.ShouldBeFalse();

        await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1" }).WithTimeout();
        // containerd may remove the bundle (and its address file) before the daemon has finished exiting.
        Directory.Delete(Path.Combine(shim.Root, "bundles", "sandbox1"), recursive: true);
        await shim.Tasks.ShutdownAsync(new ShutdownRequest { Id = "c1" }).WithTimeout();
        (await shim.Daemon.WithTimeout(TimeSpan.FromSeconds(20))).ShouldBe(0);
        File.Exists(shim.SocketPath).ShouldBeFalse("the daemon removes its socket on exit");
    }

    [Fact]
    public async Task The_service_answers_under_the_v3_name_too()
    {
        await using var shim = await ShimHarness.StartAsync();
        var client = await TtrpcClient.ConnectAsync("unix://" + shim.SocketPath).WithTimeout();
        await using (client)
        {
            var v3 = new TaskClient(client, TaskServiceBinding.V3ServiceName);
            (await v3.ConnectAsync(new ConnectRequest { Id = "x" }).WithTimeout()).ShimPid.ShouldBe((uint)Environment.ProcessId);
        }
    }

    [Fact]
    public async Task Output_of_the_guest_process_reaches_the_stdout_fifo_before_the_exit_is_reported()
    {
        await using var shim = await ShimHarness.StartAsync();
        await using var reader = await RunToExitWithStdoutFifoAsync(shim, "hello from the guest\n");

        var bytes = await reader.ReadExactlyAsync("hello from the guest\n".Length);
        System.Text.Encoding.UTF8.GetString(bytes).ShouldBe("hello from the guest\n");
    }

    [Fact]
    public async Task The_stdout_fifo_reaches_end_of_file_when_the_process_exits_before_delete()
    {
        // containerd's CRI reads an exec's FIFOs to end-of-file before it answers ExecSync: a shim that keeps its end
        // open until Delete hangs every exec probe.
        await using var shim = await ShimHarness.StartAsync();
        await using var reader = await RunToExitWithStdoutFifoAsync(shim, "last words\n");

        using var all = new MemoryStream();
        await reader.CopyToAsync(all).WithTimeout();
        System.Text.Encoding.UTF8.GetString(all.ToArray()).ShouldBe("last words\n");
    }

    /// <summary>
    /// Creates c1 with a stdout FIFO whose read end the test holds (opened around Create, as ctr does: the open
    /// completes once the shim opens its end), lets the guest process print <paramref name="output"/> and exit 0, and
    /// returns the read end once Wait has reported the exit.
    /// </summary>
    private static async Task<FileStream> RunToExitWithStdoutFifoAsync(ShimHarness shim, string output)
    {
        var fifo = Path.Combine(shim.Root, "c1-stdout");
        Cc.Hypervisor.Native.LibC.mkfifo(fifo, Convert.ToInt32("600", 8)).ShouldBe(0);
        var opening = Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.None));
        await shim.CreateAsync("c1", stdout: fifo);
        var reader = await opening.WithTimeout();
        shim.Vm.QueueOutput(C1, StdioStream.Stdout, output);
        await shim.Tasks.StartAsync(new StartRequest { Id = "c1" }).WithTimeout();
        await shim.ExitedAsync(C1, 0);
        return reader;
    }
}
