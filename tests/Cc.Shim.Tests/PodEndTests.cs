using Cc.Containerd.Protocol.Tasks;
using Cc.Shim.Sandbox;
using Cc.Shim.Tests.Fakes;
using Cc.TestKit;
using Shouldly;
using Xunit;

namespace Cc.Shim.Tests;

/// <summary>
/// The end of a pod (docs/shim.md "The end of a pod"): the last container's Delete answers once the VMM is gone, without
/// asking the guest to remove a container that dies with it; the rest of the VM's stop runs after the answer and before
/// the daemon exits. A Delete that leaves other containers removes its container from the guest and keeps the VM.
/// </summary>
public sealed class PodEndTests
{
    private static readonly ProcessKey C1 = new("c1", "");

    [Fact]
    public async Task The_last_delete_ends_the_VM_without_asking_the_guest_to_remove_the_container()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");
        await shim.ExitedAsync(C1, 0);

        await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1" }).WithTimeout();

        shim.Vm.Stopped.ShouldBeTrue("the VMM has ended when the last Delete answers");
        shim.Fake.Calls.ShouldNotContain("remove c1", "the guest dies with the pod: removing its container first is work nobody sees");
    }

    [Fact]
    public async Task Deleting_one_of_two_containers_removes_it_from_the_guest_and_keeps_the_VM()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c0");
        await shim.CreateStartedAsync("c1");
        await shim.ExitedAsync(C1, 0);

        await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1" }).WithTimeout();

        shim.Fake.Calls.ShouldContain("remove c1");
        shim.Vm.Stopped.ShouldBeFalse("c0 still runs in it");
    }

    [Fact]
    public async Task The_last_delete_answers_before_the_VM_session_is_released_and_the_daemon_exit_awaits_that_release()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");
        await shim.ExitedAsync(C1, 0);
        var vm = shim.Vm;
        vm.DisposeGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1" }).WithTimeout();
        vm.Stopped.ShouldBeTrue();
        vm.Disposed.ShouldBeFalse("the session's release is held, and the Delete did not wait for it");
        await shim.Tasks.ShutdownAsync(new ShutdownRequest { Id = "c1" }).WithTimeout();
        shim.Daemon.IsCompleted.ShouldBeFalse("the daemon's exit waits for the VM's stop to finish");
        vm.DisposeGate.SetResult();

        await shim.Daemon.WithTimeout(TimeSpan.FromSeconds(20));
        vm.Disposed.ShouldBeTrue("the daemon exits only after the VM's session is released");
    }

    [Fact]
    public async Task A_create_right_after_the_last_delete_is_never_handed_the_stopping_VM_and_boots_a_new_one()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");
        await shim.ExitedAsync(C1, 0);
        var first = shim.Vm;
        first.DisposeGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1" }).WithTimeout();

        var create = shim.Tasks.CreateAsync(new CreateTaskRequest { Id = "c2", Bundle = shim.Bundle("c2") });
        first.DisposeGate.SetResult();
        await create.WithTimeout();

        shim.Fake.Launches.ShouldBe(2, "the stopping VM is not handed to the new container");
        first.Disposed.ShouldBeTrue();
        shim.Vm.ShouldNotBeSameAs(first);
        shim.Vm.Stopped.ShouldBeFalse();
    }
}
