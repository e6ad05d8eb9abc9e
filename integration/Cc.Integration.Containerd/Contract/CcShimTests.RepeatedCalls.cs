using Cc.Containerd.Protocol;
using Cc.Containerd.Protocol.Tasks;
using Cc.Integration.Containerd.Harness;
using Cc.Ttrpc;
using Google.Protobuf;

namespace Cc.Integration.Containerd.Contract;

/// <summary>
/// Calls repeated against the real shim daemon of a task containerd runs (docs/shim.md, "Repeated calls"). containerd
/// refuses most repeats itself (a second task for a container is its own AlreadyExists), so the repeats go straight to
/// the shim's socket over ttrpc, as containerd's own client would send them; the task is then driven through ctr again
/// to show nothing was damaged.
/// </summary>
public sealed partial class CcShimTests
{
    private static readonly TimeSpan CallBound = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task Repeated_calls_to_the_real_shim_get_containerd_codes_and_leave_the_task_working(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var id = s.NewId("repeat");
        await s.RunDetachedAsync(id, "sleep", "1000");
        var shim = Leftovers.ShimPids(s.Containerd, id).ShouldHaveSingleItem("one shim serves the task");
        await using var client = await TtrpcClient.ConnectAsync(
            "unix://" + Leftovers.ShimSocketPath(s.Containerd.Address, PrivateContainerd.Namespace, id)).WaitAsync(CallBound);
        var tasks = new TaskClient(client);
        var options = new CallOptions(CallBound);

        var create = await CodeOfAsync(tasks.CreateAsync(
            new CreateTaskRequest { Id = id, Bundle = s.Containerd.BundlePath(id) }, options));
        var start = await CodeOfAsync(tasks.StartAsync(new StartRequest { Id = id }, options));
        var sleep = TypeUrls.PackRaw(TypeUrls.OciProcess,
            ByteString.CopyFromUtf8("""{"args":["sleep","1000"],"cwd":"/","env":["PATH=/bin:/usr/bin"]}"""));
        await tasks.ExecAsync(new ExecProcessRequest { Id = id, ExecId = "e1", Spec = sleep }, options);
        var exec = await CodeOfAsync(tasks.ExecAsync(new ExecProcessRequest { Id = id, ExecId = "e1", Spec = sleep }, options));
        await tasks.StartAsync(new StartRequest { Id = id, ExecId = "e1" }, options);
        var execStart = await CodeOfAsync(tasks.StartAsync(new StartRequest { Id = id, ExecId = "e1" }, options));
        await tasks.KillAsync(new KillRequest { Id = id, ExecId = "e1", Signal = 9 }, options);
        (await tasks.WaitAsync(new WaitRequest { Id = id, ExecId = "e1" }, options)).ExitStatus.ShouldBe(137u);
        var execKill = await CodeOfAsync(tasks.KillAsync(new KillRequest { Id = id, ExecId = "e1", Signal = 9 }, options));
        await tasks.DeleteAsync(new DeleteRequest { Id = id, ExecId = "e1" }, options);
        var execDelete = await CodeOfAsync(tasks.DeleteAsync(new DeleteRequest { Id = id, ExecId = "e1" }, options));
        for (var i = 0; i < 3; i++)
        {
            await tasks.ShutdownAsync(new ShutdownRequest { Id = id }, options);
        }

        create.ShouldBe((StatusCode.AlreadyExists, $"container {id}: already exists"));
        start.Code.ShouldBe(StatusCode.FailedPrecondition, start.Message);
        start.Message.ShouldContain("invalid state transition: Running => Running");
        exec.ShouldBe((StatusCode.AlreadyExists, "id e1: already exists"));
        execStart.Code.ShouldBe(StatusCode.FailedPrecondition, execStart.Message);
        execKill.Code.ShouldBe(StatusCode.NotFound, execKill.Message);
        execKill.Message.ShouldContain("process already finished");
        execDelete.Code.ShouldBe(StatusCode.NotFound, execDelete.Message);

        // Nothing was damaged: the daemon still serves the task, which answers exec, kill and wait through containerd.
        Leftovers.ShimPids(s.Containerd, id).ShouldBe([shim], "repeated Shutdown keeps a daemon that serves a task");
        (await tasks.StateAsync(new StateRequest { Id = id }, options)).Status.ShouldBe(Cc.Containerd.Protocol.Types.Status.Running);
        var after = await s.CtrAsync("task", "exec", "--exec-id", "after", id, "echo", "still here");
        s.ShouldSucceed(after);
        after.Stdout.ShouldContain("still here");
        s.ShouldSucceed(await s.CtrAsync("task", "kill", "-s", "SIGKILL", id));
        await s.WaitForStatusAsync(id, "STOPPED", TimeSpan.FromSeconds(60));
        var killAfterExit = await s.CtrAsync("task", "kill", "-s", "SIGKILL", id);
        killAfterExit.ExitCode.ShouldNotBe(0, s.Because(killAfterExit));
        killAfterExit.Stderr.ShouldContain("process already finished", customMessage: s.Because(killAfterExit));

        // The init's second Delete is containerd's to answer (its task is gone from containerd's list by then; the
        // shim's own NotFound for it is IdempotentCallTests'); the first must leave nothing behind.
        await client.DisposeAsync();
        s.ShouldSucceed(await s.CtrAsync("task", "rm", id));
        var rmAgain = await s.CtrAsync("task", "rm", id);
        rmAgain.ExitCode.ShouldNotBe(0, s.Because(rmAgain));
        rmAgain.Stderr.ShouldContain("not found", customMessage: s.Because(rmAgain));
        s.ShouldSucceed(await s.CtrAsync("container", "rm", id));
        await s.ShouldLeaveNothingAsync(id);
    }

    private static async Task<(StatusCode Code, string Message)> CodeOfAsync<T>(Task<T> call)
    {
        var error = await Should.ThrowAsync<TtrpcException>(call.WaitAsync(CallBound));
        return (error.Code, error.Message);
    }
}
