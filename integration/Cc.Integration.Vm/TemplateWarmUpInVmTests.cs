using System.Text.Json.Nodes;
using Cc.Agent.Protocol.V1;
using Cc.TestKit;
using Google.Protobuf;

namespace Cc.Integration.Vm;

/// <summary>
/// A template's guest (cc.share=late) runs one throwaway container before it is saved (the agent's TemplateWarmUp,
/// docs/templates.md): its boot timeline says the warm-up ran and its own check found nothing left, and a container of
/// the pod, looking at the guest from outside its own namespaces (PID 1's mounts, the guest's cgroup tree, /run, every
/// process), finds no mount, cgroup, directory or process of it. CreateSandbox is the signal: it awaits the warm-up.
/// </summary>
public sealed class TemplateWarmUpInVmTests : IAsyncLifetime
{
    private AgentVm _vm = null!;

    public async Task InitializeAsync() =>
        _vm = await AgentVm.BootAsync(config => config with
        {
            Kernel = config.Kernel with { ExtraParameters = [.. config.Kernel.ExtraParameters, "cc.share=late"] },
        });

    public async Task DisposeAsync() => await _vm.DisposeAsync();

    [Fact]
    public async Task The_warm_up_container_ran_and_left_no_mount_cgroup_directory_or_process_in_the_guest()
    {
        await _vm.Client.CreateSandboxAsync(new CreateSandboxRequest { SandboxId = "pod", Hostname = "pod" })
            .WithTimeout(AgentVm.BootTimeout);

        var steps = (await _vm.Client.GetGuestDetailsAsync(new GetGuestDetailsRequest()).WithTimeout(AgentVm.CallTimeout))
            .BootTimeline.Select(s => s.Name).ToList();
        steps.ShouldContain("template warm-up started");
        steps.ShouldContain("template warm-up done, nothing left behind", customMessage: _vm.Console());
        steps.ShouldNotContain("template warm-up left something behind");
        steps.ShouldNotContain("crun create spawned", "the warm-up's crun commands must not stand for a pod's first container");
        _vm.Console().ShouldContain("template warm-up: a throwaway container created, started and removed");

        var guestView = await RunGuestViewAsync("look",
            "cat /proc/1/mountinfo; echo '--- cgroups'; busybox find /proc/1/root/sys/fs/cgroup -type d; " +
            "echo '--- run'; ls -a /proc/1/root/run /proc/1/root/run/cc /proc/1/root/run/crun; echo '--- processes'; " +
            "for p in /proc/[0-9]*; do busybox tr '\\0' ' ' < $p/cmdline; echo; done");

        guestView.ShouldContain("--- processes", customMessage: guestView);
        guestView.ShouldContain(" /run/cc/shared ", customMessage: "PID 1's mounts were not read:\n" + guestView);
        guestView.ShouldNotContain("warm-up", customMessage: guestView);
        guestView.ShouldNotContain("--version", customMessage: guestView);
    }

    // A busybox container in the guest's PID namespace, with what it needs to read PID 1's root (/proc/1/root: ptrace
    // access to PID 1); returns its stdout.
    private async Task<string> RunGuestViewAsync(string id, string script)
    {
        var spec = AgentVm.Spec("sh", "-c", script);
        var namespaces = (JsonArray)spec["linux"]!["namespaces"]!;
        foreach (var pid in namespaces.Where(n => n!["type"]!.GetValue<string>() == "pid").ToList())
        {
            namespaces.Remove(pid);
        }
        var capabilities = new JsonArray("CAP_SYS_PTRACE", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH");
        ((JsonObject)spec["process"]!)["capabilities"] = new JsonObject
        {
            ["bounding"] = capabilities.DeepClone(),
            ["effective"] = capabilities.DeepClone(),
            ["permitted"] = capabilities.DeepClone(),
        };
        await _vm.Client.CreateContainerAsync(new CreateContainerRequest
        {
            ContainerId = id,
            OciSpecJson = ByteString.CopyFromUtf8(spec.ToJsonString()),
            RootfsPath = _vm.MakeRootfs(id),
        }).WithTimeout(AgentVm.CallTimeout);
        await _vm.Client.StartContainerAsync(new StartContainerRequest { ContainerId = id }).WithTimeout(AgentVm.CallTimeout);
        var output = await _vm.ReadToEndAsync(id);
        var stderr = await _vm.ReadToEndAsync(id, stderr: true);
        (await _vm.WaitAsync(id)).ShouldBe(0u, $"stdout:\n{output}\nstderr:\n{stderr}");
        return output;
    }
}
