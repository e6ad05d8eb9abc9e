using Cc.Containerd.Protocol;
using Cc.Containerd.Protocol.Events;
using Cc.Containerd.Protocol.Tasks;
using Cc.Containerd.Protocol.Types;
using Cc.Shim.Sandbox;
using Cc.Shim.Tests.Fakes;
using Cc.TestKit;
using Cc.Ttrpc;
using Google.Protobuf;

namespace Cc.Shim.Tests;

/// <summary>A pod whose VM dies under it (QEMU killed, guest panic): through the Task API, against the fake VM.</summary>
public sealed class DeadVmTests
{
    private static readonly ByteString SleepSpec = ByteString.CopyFromUtf8("""{"args":["sleep","9"]}""");

    [Fact]
    public async Task When_the_VM_dies_every_started_process_exits_137_execs_first_and_a_created_one_publishes_nothing()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");
        await shim.Tasks.ExecAsync(new ExecProcessRequest
        {
            Id = "c1", ExecId = "e1", Spec = TypeUrls.PackRaw(TypeUrls.OciProcess, SleepSpec),
        }).WithTimeout();
        await shim.Tasks.StartAsync(new StartRequest { Id = "c1", ExecId = "e1" }).WithTimeout();
        await shim.CreateAsync("c2");
        var dead = shim.Vm;

        dead.Die();

        (await shim.Tasks.WaitAsync(new WaitRequest { Id = "c1" }).WithTimeout()).ExitStatus.ShouldBe(PodSandbox.DeadVmExitStatus);
        (await shim.Tasks.WaitAsync(new WaitRequest { Id = "c1", ExecId = "e1" }).WithTimeout()).ExitStatus.ShouldBe(137u);
        (await shim.Tasks.StateAsync(new StateRequest { Id = "c2" }).WithTimeout()).Status.ShouldBe(Status.Stopped);
        await shim.EventsArrivedAsync(7);
        shim.Containerd.Topics.ShouldBe(["/tasks/create", "/tasks/start", "/tasks/exec-added", "/tasks/exec-started",
            "/tasks/create", "/tasks/exit", "/tasks/exit"]);
        var exits = shim.Containerd.Received.Skip(5).Select(r => TaskExit.Parser.ParseFrom(r.Envelope.Event.Value)).ToList();
        exits.Select(e => e.Id).ShouldBe(["e1", "c1"]);
        exits.ShouldAllBe(e => e.ExitStatus == 137u);
        // The dead VM is cleaned up without waiting for Delete: its session disposed, the rootfs mounts released.
        await Bounded.UntilAsync(() => dead.Disposed && shim.Fake.PreparedRootfs.IsEmpty, "the dead VM is cleaned up");
        dead.Stopped.ShouldBeFalse("a dead VM's agent is not asked to stop");
    }

    [Fact]
    public async Task After_the_VM_died_calls_fail_fast_with_FailedPrecondition_or_NotFound_and_never_reach_the_guest()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");
        await shim.CreateAsync("c2");
        shim.Vm.Die();
        await shim.Tasks.WaitAsync(new WaitRequest { Id = "c1" }).WithTimeout();
        var callsBefore = shim.Fake.Calls.Count;

        var kill = await Should.ThrowAsync<TtrpcException>(shim.Tasks.KillAsync(new KillRequest { Id = "c1", Signal = 9 }).WithTimeout());
        kill.Code.ShouldBe(StatusCode.NotFound, "CRI's StopContainer ignores exactly NotFound");
        var start = await Should.ThrowAsync<TtrpcException>(shim.Tasks.StartAsync(new StartRequest { Id = "c2" }).WithTimeout());
        start.Code.ShouldBe(StatusCode.FailedPrecondition);
        start.Message.ShouldContain("invalid state transition: Stopped => Running");
        var exec = await Should.ThrowAsync<TtrpcException>(shim.Tasks.ExecAsync(new ExecProcessRequest
        {
            Id = "c1", ExecId = "e2", Spec = TypeUrls.PackRaw(TypeUrls.OciProcess, SleepSpec),
        }).WithTimeout());
        exec.Code.ShouldBe(StatusCode.FailedPrecondition);
        var stats = await Should.ThrowAsync<TtrpcException>(shim.Tasks.StatsAsync(new StatsRequest { Id = "c1" }).WithTimeout());
        stats.Code.ShouldBe(StatusCode.FailedPrecondition);
        stats.Message.ShouldContain("died");
        var create = await Should.ThrowAsync<TtrpcException>(shim.CreateAsync("c3"));
        create.Code.ShouldBe(StatusCode.FailedPrecondition);
        create.Message.ShouldContain("delete the pod's remaining tasks");

        shim.Fake.Calls.Count.ShouldBe(callsBefore, string.Join(", ", shim.Fake.Calls.Skip(callsBefore)));
        shim.Fake.Launches.ShouldBe(1);
    }

    [Fact]
    public async Task The_tasks_of_a_dead_VM_delete_with_status_137_and_the_same_id_then_runs_in_a_new_VM()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");
        shim.Vm.Die();
        await shim.Tasks.WaitAsync(new WaitRequest { Id = "c1" }).WithTimeout();

        var deleted = await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1" }).WithTimeout();
        deleted.ExitStatus.ShouldBe(137u);
        shim.Fake.Calls.ShouldNotContain("remove c1", "the dead guest is not asked");

        await shim.CreateAsync("c1");
        shim.Fake.Launches.ShouldBe(2);
        await shim.Tasks.StartAsync(new StartRequest { Id = "c1" }).WithTimeout();
        shim.Vm.Exit(new ProcessKey("c1", ""), 0);
        (await shim.Tasks.WaitAsync(new WaitRequest { Id = "c1" }).WithTimeout()).ExitStatus.ShouldBe(0u);
        await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1" }).WithTimeout();
        shim.Vm.Stopped.ShouldBeTrue("the second VM ends the ordinary way");
    }
}
