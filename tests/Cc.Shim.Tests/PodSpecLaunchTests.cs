using Cc.Containerd.Protocol.Tasks;
using Cc.Shim.Sandbox;
using Cc.Shim.Tests.Fakes;
using Cc.Shim.Tests.Fixtures;
using Cc.TestKit;
using Cc.Ttrpc;

namespace Cc.Shim.Tests;

/// <summary>The pod's spec reaches the VM launch as one value, and a pod a VM cannot be is refused before any launch.</summary>
public sealed class PodSpecLaunchTests
{
    private static string WriteBundle(ShimHarness shim, string id, string configJson)
    {
        var bundle = ShimHarness.NewBundle(shim.Root, id);
        File.WriteAllText(Path.Combine(bundle, "config.json"), configJson);
        return bundle;
    }

    [Fact]
    public async Task The_pause_containers_create_launches_the_vm_with_its_sandbox_spec()
    {
        await using var shim = await ShimHarness.StartAsync();

        await shim.Tasks.CreateAsync(new CreateTaskRequest { Id = "sandbox1", Bundle = WriteBundle(shim, "sandbox1", CriSpecs.Sandbox17) })
            .WithTimeout();
        await shim.Tasks.CreateAsync(new CreateTaskRequest { Id = "app1", Bundle = WriteBundle(shim, "app1", CriSpecs.App17) })
            .WithTimeout();

        shim.Fake.Launches.ShouldBe(1);
        var launch = shim.Fake.LastLaunch.ShouldNotBeNull();
        launch.SandboxId.ShouldBe("sandbox1");
        launch.Spec.IsCriSandbox.ShouldBeTrue();
        launch.Spec.Hostname.ShouldBe("web-0");
        launch.Spec.NetworkNamespacePath.ShouldBe("/var/run/netns/cni-1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901");
        launch.Spec.Pod.ShouldBe(new PodIdentity("web-0", "default", "0d6b2c3e-8f8a-4c1e-9b7d-2a5e1f3c4d6b"));
        shim.Fake.Calls.ShouldContain($"create app1 /run/cc/shared/containers/app1/rootfs role=Container sandbox={CriSpecs.PodSandboxId}");
        shim.Fake.Calls.ShouldContain("create sandbox1 /run/cc/shared/containers/sandbox1/rootfs role=Sandbox sandbox=");
    }

    [Fact]
    public async Task A_host_network_pod_fails_its_create_with_failed_precondition_and_launches_nothing()
    {
        await using var shim = await ShimHarness.StartAsync();

        var error = await Should.ThrowAsync<TtrpcException>(shim.Tasks.CreateAsync(
            new CreateTaskRequest { Id = "sandbox1", Bundle = WriteBundle(shim, "sandbox1", CriSpecs.HostNetworkSandbox) }).WithTimeout());

        error.Code.ShouldBe(StatusCode.FailedPrecondition);
        error.Message.ShouldContain("host network pods are not supported by io.containerd.cc.v2: the pod runs in its own VM");
        shim.Fake.Launches.ShouldBe(0);
        shim.Fake.PreparedRootfs.ShouldBeEmpty();
    }
}
