using Cc.Containerd.Protocol;
using Cc.Containerd.Protocol.Tasks;
using Cc.Shim.Sandbox;
using Cc.Shim.Tests.Fakes;
using static Cc.Shim.Tests.Fakes.ResizablePod;
using Cc.TestKit;
using Cc.Ttrpc;
using Google.Protobuf;

namespace Cc.Shim.Tests;

/// <summary>
/// Task Update resizes the VM to the pod's limits (docs/hotplug.md): grow before the guest cgroup, shrink after it,
/// never below the boot size nor above the headroom; a container's Delete shrinks the VM to what the remaining containers
/// ask for. The QMP and guest sides are HotplugTests and the Docker test.
/// </summary>
public sealed class VmResizeTests
{
    private static Task UpdateAsync(ShimHarness shim, string id, string json) =>
        shim.Tasks.UpdateAsync(new UpdateTaskRequest
        {
            Id = id,
            Resources = TypeUrls.PackRaw(TypeUrls.OciLinuxResources, ByteString.CopyFromUtf8(json)),
        }).WithTimeout();

    [Fact]
    public async Task A_raised_limit_grows_the_vm_before_the_cgroup_and_a_lowered_one_shrinks_it_after()
    {
        var (shim, resize) = await StartAsync();
        await using var _ = shim;

        await UpdateAsync(shim, "c1", """{"memory":{"limit":1073741824},"cpu":{"quota":150000,"period":100000}}""");
        shim.Vm.Steps.ShouldBe(["resize 1152 MiB, 2 vCPUs", "cgroup c1"]);

        shim.Vm.Steps.Clear();
        await UpdateAsync(shim, "c1", """{"memory":{"limit":268435456},"cpu":{"quota":100000,"period":100000}}""");
        // 256 MiB + the guest's 128 MiB is below the boot size: back to boot, which is as far as a VM shrinks.
        shim.Vm.Steps.ShouldBe(["cgroup c1", "resize 512 MiB, 1 vCPUs"]);
        resize.Current.ShouldBe(Boot);
    }

    [Fact]
    public async Task Memory_up_and_cpus_down_grow_memory_first_and_shrink_cpus_after_the_cgroup()
    {
        var (shim, _) = await StartAsync();
        await using var __ = shim;
        await UpdateAsync(shim, "c1", """{"cpu":{"quota":300000,"period":100000}}""");
        shim.Vm.Steps.Clear();

        await UpdateAsync(shim, "c1", """{"memory":{"limit":1073741824},"cpu":{"quota":100000,"period":100000}}""");

        shim.Vm.Steps.ShouldBe(["resize 1152 MiB, 3 vCPUs", "cgroup c1", "resize 1152 MiB, 1 vCPUs"]);
    }

    [Fact]
    public async Task Limits_beyond_the_headroom_grow_the_vm_to_its_maximum_and_still_set_the_cgroup()
    {
        var (shim, resize) = await StartAsync();
        await using var _ = shim;

        await UpdateAsync(shim, "c1", """{"memory":{"limit":17179869184},"cpu":{"quota":1600000,"period":100000}}""");

        shim.Vm.Steps.ShouldBe(["resize 4096 MiB, 4 vCPUs", "cgroup c1"]);
        resize.Current.ShouldBe(Max);
    }

    [Fact]
    public async Task A_failed_grow_fails_the_update_and_leaves_the_cgroup_alone()
    {
        var (shim, resize) = await StartAsync();
        await using var _ = shim;
        resize.Failure = new InvalidOperationException("QMP device_add failed: no free slot");

        var error = await Should.ThrowAsync<TtrpcException>(
            UpdateAsync(shim, "c1", """{"memory":{"limit":1073741824}}"""));

        error.Message.ShouldContain("no free slot");
        shim.Vm.Updates.ShouldBeEmpty();
    }

    [Fact]
    public async Task A_failed_shrink_keeps_the_update_and_the_vm_size()
    {
        var (shim, resize) = await StartAsync();
        await using var _ = shim;
        await UpdateAsync(shim, "c1", """{"memory":{"limit":1073741824}}""");
        resize.Failure = new InvalidOperationException("the guest did not answer");

        await UpdateAsync(shim, "c1", """{"memory":{"limit":104857600}}""");

        shim.Vm.Updates.Count.ShouldBe(2);
        resize.Current.ShouldBe(new VmSize(1152, 1));
    }

    [Fact]
    public async Task A_fixed_size_vm_only_gets_the_cgroup()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateAsync("c1");

        await UpdateAsync(shim, "c1", """{"memory":{"limit":1073741824}}""");

        shim.Vm.Steps.ShouldBe(["create c1", "cgroup c1"]);
    }

    [Fact]
    public async Task Deleting_a_container_shrinks_the_vm_to_what_the_remaining_containers_ask_for()
    {
        var (shim, resize) = await StartAsync();
        await using var _ = shim;
        await shim.CreateAsync("c2");
        await shim.CreateAsync("c3");
        await UpdateAsync(shim, "c1", """{"memory":{"limit":536870912}}""");
        await UpdateAsync(shim, "c2", """{"memory":{"limit":1073741824},"cpu":{"quota":200000,"period":100000}}""");
        resize.Current.ShouldBe(new VmSize(1664, 2));
        shim.Vm.Steps.Clear();

        // c3 has no limit: it was given nothing, so its delete takes nothing back. c2's does: c1's 512 MiB + the guest's
        // 128 MiB remain, and no CPU limit, so the VM goes back to its boot vCPU. The shrink follows the Delete's answer.
        await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c3" }).WithTimeout();
        await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c2" }).WithTimeout();
        await Bounded.UntilAsync(() => !shim.Vm.Steps.IsEmpty, "the VM is resized after c2's delete");

        shim.Vm.Steps.ShouldBe(["resize 640 MiB, 1 vCPUs"]);
        resize.Current.ShouldBe(new VmSize(640, 1));
    }

    [Fact]
    public async Task A_failed_shrink_after_a_delete_keeps_the_delete_and_the_vm_size()
    {
        var (shim, resize) = await StartAsync();
        await using var _ = shim;
        await shim.CreateAsync("c2");
        await UpdateAsync(shim, "c2", """{"memory":{"limit":1073741824}}""");
        resize.Failure = new InvalidOperationException("the guest did not answer");
        shim.Vm.Steps.Clear();

        await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c2" }).WithTimeout();
        await Bounded.UntilAsync(() => !shim.Vm.Steps.IsEmpty, "the shrink after c2's delete is tried");

        shim.Vm.Steps.ShouldBe(["resize 512 MiB, 1 vCPUs failed"]);
        resize.Current.ShouldBe(new VmSize(1152, 1));
        (await Should.ThrowAsync<TtrpcException>(shim.Tasks.StateAsync(new StateRequest { Id = "c2" }).WithTimeout()))
            .Code.ShouldBe(StatusCode.NotFound);
        (await shim.Tasks.StateAsync(new StateRequest { Id = "c1" }).WithTimeout()).Id.ShouldBe("c1");
    }

    [Fact]
    public void The_pod_size_sums_its_containers_limits_over_the_floor()
    {
        PodResources Limits(long? memoryMiB, long? quota) =>
            new(quota is null ? null : 100_000, quota, null, memoryMiB is null ? null : memoryMiB << 20);

        VmSizing.ForContainers(512, 1, [Limits(null, null), Limits(null, null)]).ShouldBe((512, 1));
        VmSizing.ForContainers(512, 1, [Limits(600, 50_000), Limits(300, 60_000), Limits(null, null)]).ShouldBe((1028, 2));
        VmSizing.ForContainers(2048, 4, [Limits(100, 100_000)]).ShouldBe((2048, 4));
    }

    [Fact]
    public void Update_resources_are_read_from_the_oci_document_and_bad_ones_are_invalid_argument()
    {
        ResourceLimits.FromUpdate("""{"memory":{"limit":-1},"cpu":{"quota":-1,"period":100000,"shares":1024}}"""u8)
            .ShouldBe(new PodResources(100_000, -1, 1024, -1));
        ResourceLimits.FromUpdate("{}"u8).ShouldBe(PodResources.None);
        Should.Throw<InvalidRequestException>(() => ResourceLimits.FromUpdate("[1]"u8));
        Should.Throw<InvalidRequestException>(() => ResourceLimits.FromUpdate("{"u8));
        Should.Throw<InvalidRequestException>(() => ResourceLimits.FromUpdate("""{"memory":{"limit":"lots"}}"""u8))
            .Message.ShouldContain("limit");
    }
}
