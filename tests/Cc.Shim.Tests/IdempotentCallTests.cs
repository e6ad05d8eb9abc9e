using Cc.Containerd.Protocol;
using Cc.Containerd.Protocol.Tasks;
using Cc.Containerd.Protocol.Types;
using Cc.Shim.Sandbox;
using Cc.Shim.Tests.Fakes;
using Cc.TestKit;
using Cc.Ttrpc;
using Google.Protobuf;

namespace Cc.Shim.Tests;

/// <summary>
/// Calls containerd (or a retrying client) may repeat: each answers with the code containerd's runc shim answers
/// (docs/shim.md, "Repeated calls"), and leaves the task as it was: the next call works as if the repeat never came.
/// </summary>
public sealed class IdempotentCallTests
{
    private static readonly ProcessKey C1 = new("c1", "");
    private static readonly ProcessKey E1 = new("c1", "e1");

    [Fact]
    public async Task Create_with_an_existing_id_is_AlreadyExists_and_leaves_the_running_task_untouched()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");

        var error = await Should.ThrowAsync<TtrpcException>(shim.CreateAsync("c1"));

        error.Code.ShouldBe(StatusCode.AlreadyExists);
        error.Message.ShouldContain("container c1: already exists");
        shim.Fake.Calls.Count(c => c.StartsWith("create c1", StringComparison.Ordinal)).ShouldBe(1, "the guest saw one create");
        shim.Fake.Calls.ShouldNotContain("remove c1", "the refused create must not undo the first one");
        shim.Fake.PreparedRootfs.ShouldContainKey("c1", "the rootfs of the running task stays shared");
        (await shim.Tasks.StateAsync(new StateRequest { Id = "c1" }).WithTimeout()).Status.ShouldBe(Status.Running);
        await shim.Tasks.KillAsync(new KillRequest { Id = "c1", Signal = 9 }).WithTimeout();
        (await shim.Tasks.WaitAsync(new WaitRequest { Id = "c1" }).WithTimeout()).ExitStatus.ShouldBe(137u);
    }

    [Fact]
    public async Task Start_twice_is_FailedPrecondition_for_the_init_and_an_exec_and_both_keep_running()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");
        await shim.ExecStartedAsync("c1", "e1", SleepSpec());

        var init = await Should.ThrowAsync<TtrpcException>(shim.Tasks.StartAsync(new StartRequest { Id = "c1" }).WithTimeout());
        var exec = await Should.ThrowAsync<TtrpcException>(
            shim.Tasks.StartAsync(new StartRequest { Id = "c1", ExecId = "e1" }).WithTimeout());

        init.Code.ShouldBe(StatusCode.FailedPrecondition);
        init.Message.ShouldContain("invalid state transition: Running => Running");
        exec.Code.ShouldBe(StatusCode.FailedPrecondition);
        exec.Message.ShouldContain("invalid state transition: Running => Running");
        shim.Fake.Calls.Count(c => c == "start c1").ShouldBe(1);
        shim.Fake.Calls.Count(c => c == "start c1/e1").ShouldBe(1);
        (await shim.Tasks.StateAsync(new StateRequest { Id = "c1", ExecId = "e1" }).WithTimeout()).Status.ShouldBe(Status.Running);
        shim.Vm.Exit(E1, 4);
        (await shim.Tasks.WaitAsync(new WaitRequest { Id = "c1", ExecId = "e1" }).WithTimeout()).ExitStatus.ShouldBe(4u);
        (await shim.Tasks.StateAsync(new StateRequest { Id = "c1" }).WithTimeout()).Status.ShouldBe(Status.Running);
    }

    [Fact]
    public async Task Exec_with_an_existing_exec_id_is_AlreadyExists_even_after_that_exec_exited_and_the_first_stays_usable()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");
        await shim.Tasks.ExecAsync(new ExecProcessRequest { Id = "c1", ExecId = "e1", Spec = SleepSpec() }).WithTimeout();

        var created = await Should.ThrowAsync<TtrpcException>(
            shim.Tasks.ExecAsync(new ExecProcessRequest { Id = "c1", ExecId = "e1", Spec = SleepSpec() }).WithTimeout());
        await shim.Tasks.StartAsync(new StartRequest { Id = "c1", ExecId = "e1" }).WithTimeout();
        await shim.ExitedAsync(E1, 0);
        var exited = await Should.ThrowAsync<TtrpcException>(
            shim.Tasks.ExecAsync(new ExecProcessRequest { Id = "c1", ExecId = "e1", Spec = SleepSpec() }).WithTimeout());

        created.Code.ShouldBe(StatusCode.AlreadyExists);
        created.Message.ShouldContain("id e1: already exists");
        exited.Code.ShouldBe(StatusCode.AlreadyExists, "runc keeps an exec id reserved until its Delete");
        shim.Fake.Calls.Count(c => c.StartsWith("exec c1/e1", StringComparison.Ordinal)).ShouldBe(1, "the guest saw one exec");
        // Once deleted, the id is free again.
        await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1", ExecId = "e1" }).WithTimeout();
        await shim.ExecStartedAsync("c1", "e1", SleepSpec());
    }

    [Fact]
    public async Task Kill_after_exit_and_after_delete_is_NotFound_for_the_init_and_an_exec()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");
        await shim.ExecStartedAsync("c1", "e1", SleepSpec());
        await shim.ExitedAsync(E1, 0);

        var execExited = await KillErrorAsync(shim, "e1");
        await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1", ExecId = "e1" }).WithTimeout();
        var execDeleted = await KillErrorAsync(shim, "e1");
        await shim.ExitedAsync(C1, 0);
        var initExited = await KillErrorAsync(shim, "");
        await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1" }).WithTimeout();
        var initDeleted = await KillErrorAsync(shim, "");

        execExited.Code.ShouldBe(StatusCode.NotFound);
        execExited.Message.ShouldContain("process already finished");
        execDeleted.Code.ShouldBe(StatusCode.NotFound);
        initExited.Code.ShouldBe(StatusCode.NotFound);
        initExited.Message.ShouldContain("process already finished");
        initDeleted.Code.ShouldBe(StatusCode.NotFound);
        initDeleted.Message.ShouldContain("container not created");
        shim.Fake.Calls.ShouldNotContain(c => c.StartsWith("signal", StringComparison.Ordinal), "no signal reached the guest");
    }

    [Fact]
    public async Task Delete_twice_is_NotFound_for_an_exec_and_the_init_and_the_container_keeps_working_between()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");
        await shim.ExecStartedAsync("c1", "e1", SleepSpec());
        await shim.ExitedAsync(E1, 0);

        await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1", ExecId = "e1" }).WithTimeout();
        var exec = await Should.ThrowAsync<TtrpcException>(
            shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1", ExecId = "e1" }).WithTimeout());
        // The container is undamaged: a new exec runs and exits.
        await shim.ExecStartedAsync("c1", "e2", SleepSpec());
        shim.Vm.Exit(new ProcessKey("c1", "e2"), 5);
        (await shim.Tasks.WaitAsync(new WaitRequest { Id = "c1", ExecId = "e2" }).WithTimeout()).ExitStatus.ShouldBe(5u);
        await shim.ExitedAsync(C1, 0);
        await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1" }).WithTimeout();
        var init = await Should.ThrowAsync<TtrpcException>(shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1" }).WithTimeout());

        exec.Code.ShouldBe(StatusCode.NotFound);
        init.Code.ShouldBe(StatusCode.NotFound);
        init.Message.ShouldContain("container not created");
        // Events reach containerd through the queue after Delete answers: wait for the TaskDelete, then count it once.
        await Bounded.UntilAsync(() => shim.Containerd.Topics.Contains("/tasks/delete"), "TaskDelete reached containerd");
        shim.Containerd.Topics.Count(t => t == "/tasks/delete").ShouldBe(1);
    }

    [Fact]
    public async Task Two_deletes_at_once_delete_the_container_once_and_the_second_is_NotFound()
    {
        // At the domain seam: calling DeleteAsync runs synchronously up to its first incomplete await, so once the
        // second call has returned its task it is certainly waiting on the container's gate behind the first.
        await using var pod = FakeSandbox.Start();
        await pod.CreateAsync("c0"); // c1 is not the pod's last container: its Delete asks the guest to remove it
        await pod.CreateAsync("c1");
        pod.Engine.Vm!.RemoveGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var first = pod.Sandbox.DeleteAsync(C1, CancellationToken.None);
        await pod.Engine.Vm.RemoveArrived.Task.WithTimeout();
        var second = pod.Sandbox.DeleteAsync(C1, CancellationToken.None);
        second.IsCompleted.ShouldBeFalse("the second Delete waits on the container's gate");
        pod.Engine.Vm.RemoveGate.SetResult();

        await first.WithTimeout();
        var error = await Should.ThrowAsync<NotFoundException>(second.WithTimeout());
        error.Message.ShouldContain("container not created", customMessage: "not the invalid-transition error of a process it never saw");
        pod.Events.Published.OfType<Cc.Shim.Events.TaskDeleted>().Count().ShouldBe(1);
        pod.Engine.Calls.Count(c => c == "remove c1").ShouldBe(1);
    }

    [Fact]
    public async Task Shutdown_repeated_while_a_container_lives_is_harmless_and_repeated_after_the_last_delete_ends_the_daemon_once()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");

        for (var i = 0; i < 3; i++)
        {
            await shim.Tasks.ShutdownAsync(new ShutdownRequest { Id = "c1" }).WithTimeout();
        }

        shim.Lifetime.Stopping.IsCancellationRequested.ShouldBeFalse("the daemon serves a live container");
        await shim.ExecStartedAsync("c1", "e1", SleepSpec());
        await shim.ExitedAsync(C1, 0);
        await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1" }).WithTimeout();
        Directory.Delete(Path.Combine(shim.Root, "bundles", "sandbox1"), recursive: true);
        var shutdowns = new[]
        {
            shim.Tasks.ShutdownAsync(new ShutdownRequest { Id = "c1" }),
            shim.Tasks.ShutdownAsync(new ShutdownRequest { Id = "c1" }),
        };
        foreach (var shutdown in shutdowns)
        {
            try
            {
                await shutdown.WithTimeout();
            }
            catch (TtrpcException)
            {
                // The second may find the connection already closing: the daemon is on its way out, as asked.
            }
        }
        (await shim.Daemon.WithTimeout(TimeSpan.FromSeconds(20))).ShouldBe(0);
    }

    private static Task<TtrpcException> KillErrorAsync(ShimHarness shim, string execId) =>
        Should.ThrowAsync<TtrpcException>(shim.Tasks.KillAsync(new KillRequest { Id = "c1", ExecId = execId, Signal = 9 }).WithTimeout());

    private static Google.Protobuf.WellKnownTypes.Any SleepSpec() =>
        TypeUrls.PackRaw(TypeUrls.OciProcess, ByteString.CopyFromUtf8("""{"args":["sleep","1000"],"cwd":"/"}"""));
}
