using System.Text.Json.Nodes;
using Cc.Agent.Protocol.V1;
using Cc.TestKit;
using Google.Protobuf;

namespace Cc.Integration.Vm;

/// <summary>
/// The first container of a cold `ctr run` (its own network namespace, default capabilities, no devices) is created
/// without waiting for the modules the agent loads after ready, which it could not use; a container that could see one
/// missing (here: in the guest's network namespace, where the NICs are) still waits for them all (docs/guest-image.md,
/// "Modules"). Its own VM: the boot timeline records each step's first occurrence, so the first container must be ours.
/// </summary>
public sealed class DeferredModulesInVmTests
{
    [Fact]
    public async Task A_container_in_its_own_network_namespace_is_created_without_waiting_and_one_in_the_guests_still_waits()
    {
        await using var vm = await AgentVm.BootAsync();
        var spec = AgentVm.Spec("true");
        ((JsonArray)spec["linux"]!["namespaces"]!).Add(new JsonObject { ["type"] = "network" });
        await vm.Client.CreateContainerAsync(new CreateContainerRequest
        {
            ContainerId = "own-netns",
            OciSpecJson = ByteString.CopyFromUtf8(spec.ToJsonString()),
            RootfsPath = vm.MakeRootfs("own-netns"),
        }).WithTimeout(AgentVm.CallTimeout);
        var first = await TimelineAsync(vm);
        var all = string.Join(", ", first.Select(p => $"{p.Key}={p.Value}"));
        first.ShouldContainKey("CreateContainer needs no deferred module", all);
        first.ShouldNotContainKey("deferred modules awaited by a request", all);

        // No network namespace: the guest's, with the pod's NICs (virtio_net is one of the deferred modules).
        await vm.RunAsync("guest-netns", ["cat", "/proc/modules"]);
        var loaded = (await vm.ReadToEndAsync("guest-netns")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ')[0]).ToList();
        (await vm.WaitAsync("guest-netns")).ShouldBe(0u);
        (await TimelineAsync(vm)).ShouldContainKey("deferred modules awaited by a request");
        foreach (var name in (string[])["virtio_net", "overlay", "bridge", "virtio_mem", "vsock"])
        {
            loaded.ShouldContain(name, string.Join(' ', loaded));
        }
    }

    private static async Task<Dictionary<string, double>> TimelineAsync(AgentVm vm) =>
        (await vm.Client.GetGuestDetailsAsync(new GetGuestDetailsRequest()).WithTimeout(AgentVm.CallTimeout))
            .BootTimeline.ToDictionary(s => s.Name, s => s.Seconds);
}
