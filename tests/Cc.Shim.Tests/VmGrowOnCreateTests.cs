using Cc.Containerd.Protocol.Tasks;
using Cc.Shim.Sandbox;
using Cc.Shim.Tests.Fakes;
using static Cc.Shim.Tests.Fakes.ResizablePod;
using Cc.TestKit;
using Cc.Ttrpc;

namespace Cc.Shim.Tests;

/// <summary>
/// A container created in a running pod grows the VM for its limits before the guest creates it (docs/hotplug.md,
/// "Creating a container"): to the pod's sum, never smaller than the VM is, clamped to the headroom; a grow that fails
/// fails the Create with nothing made, and a Create that fails after the grow gives the growth back.
/// </summary>
public sealed class VmGrowOnCreateTests
{
    /// <summary>Creates <paramref name="id"/> from a bundle whose config.json has <paramref name="resources"/> as linux.resources.</summary>
    private static Task<CreateTaskResponse> CreateWithLimitsAsync(ShimHarness shim, string id, string resources)
    {
        var bundle = shim.Bundle(id);
        File.WriteAllText(Path.Combine(bundle, "config.json"),
            $$$"""{"ociVersion":"1.1.0","annotations":{},"linux":{"resources":{{{resources}}}}}""");
        return shim.Tasks.CreateAsync(new CreateTaskRequest { Id = id, Bundle = bundle }).WithTimeout();
    }

    [Fact]
    public async Task A_container_with_limits_grows_the_vm_before_the_guest_creates_it()
    {
        var (shim, resize) = await StartAsync();
        await using var _ = shim;

        await CreateWithLimitsAsync(shim, "c2", """{"memory":{"limit":1073741824},"cpu":{"quota":150000,"period":100000}}""");

        shim.Vm.Steps.ShouldBe(["resize 1152 MiB, 2 vCPUs", "create c2"]);
        resize.Current.ShouldBe(new VmSize(1152, 2));
    }

    [Fact]
    public async Task The_vm_grows_to_the_pods_sum_and_a_container_without_limits_changes_nothing()
    {
        var (shim, resize) = await StartAsync();
        await using var _ = shim;
        await CreateWithLimitsAsync(shim, "c2", """{"memory":{"limit":536870912},"cpu":{"quota":100000,"period":100000}}""");

        await CreateWithLimitsAsync(shim, "c3", """{"memory":{"limit":536870912},"cpu":{"quota":50000,"period":100000}}""");
        await shim.CreateAsync("c4");

        // c2 and c3: 1 GiB + the guest's 128 MiB, 1.5 CPUs rounded up; c1 and c4 have no limits and add nothing.
        shim.Vm.Steps.ShouldBe(["resize 640 MiB, 1 vCPUs", "create c2", "resize 1152 MiB, 2 vCPUs", "create c3", "create c4"]);
        resize.Current.ShouldBe(new VmSize(1152, 2));
    }

    [Fact]
    public async Task A_create_never_shrinks_the_vm_and_grows_only_the_dimension_that_is_short()
    {
        var (shim, resize) = await StartAsync();
        await using var _ = shim;
        // Larger than its containers ask for (as a CRI pod sized at boot from its announced sums, or a shrink the guest
        // did not finish): 2 GiB, 1 vCPU.
        await resize.ResizeAsync(new VmSize(2048, 1), CancellationToken.None);
        shim.Vm.Steps.Clear();

        await CreateWithLimitsAsync(shim, "c2", """{"memory":{"limit":268435456}}""");
        await CreateWithLimitsAsync(shim, "c3", """{"memory":{"limit":268435456},"cpu":{"quota":300000,"period":100000}}""");

        shim.Vm.Steps.ShouldBe(["create c2", "resize 2048 MiB, 3 vCPUs", "create c3"]);
        resize.Current.ShouldBe(new VmSize(2048, 3));
    }

    [Fact]
    public async Task Limits_beyond_the_headroom_grow_the_vm_to_its_maximum_and_the_container_is_created()
    {
        var (shim, resize) = await StartAsync();
        await using var _ = shim;

        await CreateWithLimitsAsync(shim, "c2", """{"memory":{"limit":17179869184},"cpu":{"quota":1600000,"period":100000}}""");

        shim.Vm.Steps.ShouldBe(["resize 4096 MiB, 4 vCPUs", "create c2"]);
        resize.Current.ShouldBe(Max);
        (await shim.Tasks.StateAsync(new StateRequest { Id = "c2" }).WithTimeout()).Id.ShouldBe("c2");
    }

    [Fact]
    public async Task A_failed_grow_fails_the_create_with_the_cause_and_nothing_of_the_container_is_made()
    {
        var (shim, resize) = await StartAsync();
        await using var _ = shim;
        resize.Failure = new InvalidOperationException("QMP device_add failed: no free slot");

        var error = await Should.ThrowAsync<TtrpcException>(
            CreateWithLimitsAsync(shim, "c2", """{"memory":{"limit":1073741824},"cpu":{"quota":200000,"period":100000}}"""));

        error.Code.ShouldBe(StatusCode.Unknown);
        error.Message.ShouldContain("could not grow from 512 MiB, 1 vCPUs to 1152 MiB, 2 vCPUs");
        error.Message.ShouldContain("no free slot");
        shim.Vm.Steps.ShouldBe(["resize 1152 MiB, 2 vCPUs failed"]); // the guest never saw the container
        shim.Fake.PreparedRootfs.ShouldNotContainKey("c2");
        (await Should.ThrowAsync<TtrpcException>(shim.Tasks.StateAsync(new StateRequest { Id = "c2" }).WithTimeout()))
            .Code.ShouldBe(StatusCode.NotFound);

        // Nothing of c2 stayed behind: the same id is created once the VM can grow, and c2's failed attempt is not counted.
        resize.Failure = null;
        await CreateWithLimitsAsync(shim, "c2", """{"memory":{"limit":1073741824},"cpu":{"quota":200000,"period":100000}}""");
        resize.Current.ShouldBe(new VmSize(1152, 2));
    }

    [Fact]
    public async Task A_create_the_guest_refuses_after_the_grow_gives_the_growth_back()
    {
        var (shim, resize) = await StartAsync();
        await using var _ = shim;
        await CreateWithLimitsAsync(shim, "c2", """{"memory":{"limit":536870912}}""");
        shim.Vm.CreateFailure = new TtrpcException(StatusCode.Unknown, "crun create: no such file");
        shim.Vm.Steps.Clear();

        await Should.ThrowAsync<TtrpcException>(
            CreateWithLimitsAsync(shim, "c3", """{"memory":{"limit":1073741824},"cpu":{"quota":200000,"period":100000}}"""));
        await Bounded.UntilAsync(() => shim.Vm.Steps.Count >= 3, "the VM shrinks after c3's failed create");

        // Back to what c2 asks for (512 MiB + the guest's 128), after the Create answered.
        shim.Vm.Steps.ShouldBe(["resize 1664 MiB, 2 vCPUs", "create c3", "resize 640 MiB, 1 vCPUs"]);
        resize.Current.ShouldBe(new VmSize(640, 1));
        shim.Fake.PreparedRootfs.ShouldNotContainKey("c3");
    }

    [Fact]
    public async Task A_container_being_created_counts_in_a_concurrent_update_of_another()
    {
        var (shim, resize) = await StartAsync();
        await using var _ = shim;
        shim.Vm.CreateGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        shim.Vm.CreateArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var create = CreateWithLimitsAsync(shim, "c2", """{"memory":{"limit":1073741824},"cpu":{"quota":200000,"period":100000}}""");
        await shim.Vm.CreateArrived.Task.WithTimeout();

        // c1's Update plans while c2 is in the guest's hands: c2's 1 GiB and 2 CPUs must stay.
        await shim.Tasks.UpdateAsync(new UpdateTaskRequest
        {
            Id = "c1",
            Resources = Cc.Containerd.Protocol.TypeUrls.PackRaw(Cc.Containerd.Protocol.TypeUrls.OciLinuxResources,
                Google.Protobuf.ByteString.CopyFromUtf8("""{"memory":{"limit":104857600}}""")),
        }).WithTimeout();
        shim.Vm.CreateGate.TrySetResult();
        await create;

        shim.Vm.Steps.ShouldBe(["resize 1152 MiB, 2 vCPUs", "create c2", "resize 1252 MiB, 2 vCPUs", "cgroup c1"]);
        resize.Current.ShouldBe(new VmSize(1252, 2));
    }
}
