using System.Text.Json.Nodes;
using Cc.Agent.Protocol.V1;
using Cc.TestKit;
using Cc.Ttrpc;
using Google.Protobuf;

namespace Cc.Integration.Vm;

/// <summary>
/// A CRI pod in a real guest (its own VM: CreateSandbox renames it): a pause-like sandbox container and two app
/// containers with the specs containerd's CRI writes (namespace paths naming the host's pause pid, the host's shm
/// directory bound at /dev/shm), created with the pod roles the shim sends. Everything is observed from inside.
/// </summary>
public sealed class PodInVmTests(AgentVmFixture fixture) : IClassFixture<AgentVmFixture>
{
    private const string HostPausePid = "4242";
    private const string HostShm = "/run/containerd/io.containerd.grpc.v1.cri/sandboxes/s1/shm";
    private readonly AgentVm _vm = fixture.Vm;

    private static JsonObject PodSpec(string role, string[] args)
    {
        var spec = AgentVm.Spec(args);
        spec["linux"]!["namespaces"] = role == "sandbox"
            ? new JsonArray(Ns("pid"), Ns("ipc"), Ns("uts"), Ns("mount"), Ns("network", "/var/run/netns/cni-0123"))
            : new JsonArray(Ns("pid"), Ns("ipc", $"/proc/{HostPausePid}/ns/ipc"), Ns("uts", $"/proc/{HostPausePid}/ns/uts"),
                Ns("mount"), Ns("network", $"/proc/{HostPausePid}/ns/net"));
        spec["mounts"]!.AsArray().Add(new JsonObject
        {
            ["destination"] = "/dev/shm", ["type"] = "bind", ["source"] = HostShm,
            ["options"] = role == "sandbox" ? new JsonArray("rbind", "ro") : new JsonArray("rbind", "rw"),
        });
        return spec;
    }

    private static JsonObject Ns(string type, string? path = null) =>
        path is null ? new JsonObject { ["type"] = type } : new JsonObject { ["type"] = type, ["path"] = path };

    private async Task CreateAsync(string id, JsonObject spec, PodRole role, string sandboxId = "")
    {
        await _vm.Client.CreateContainerAsync(new CreateContainerRequest
        {
            ContainerId = id,
            OciSpecJson = ByteString.CopyFromUtf8(spec.ToJsonString()),
            RootfsPath = _vm.MakeRootfs(id),
            PodRole = role,
            SandboxContainerId = sandboxId,
        }).WithTimeout(AgentVm.CallTimeout);
    }

    private Task StartAsync(string id) =>
        _vm.Client.StartContainerAsync(new StartContainerRequest { ContainerId = id }).WithTimeout(AgentVm.CallTimeout);

    private async Task<string> ExecAsync(string id, string execId, string script)
    {
        await _vm.Client.ExecProcessAsync(new ExecProcessRequest
        {
            ContainerId = id, ExecId = execId,
            OciProcessJson = ByteString.CopyFromUtf8(AgentVm.Process("sh", "-c", script).ToJsonString()),
        }).WithTimeout(AgentVm.CallTimeout);
        var output = await _vm.ReadToEndAsync(id, execId);
        (await _vm.WaitAsync(id, execId)).ShouldBe(0u, output);
        return output;
    }

    private const string Identity = "hostname; readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts; readlink /proc/self/ns/net";

    [Fact]
    public async Task The_containers_of_a_pod_share_hostname_ipc_uts_network_localhost_and_dev_shm()
    {
        await _vm.Client.CreateSandboxAsync(new CreateSandboxRequest
        {
            SandboxId = "s1",
            Hostname = "vm-of-pod",
            Sysctls = { ["net.ipv4.ip_unprivileged_port_start"] = "0" },
        }).WithTimeout(AgentVm.CallTimeout);

        var sandbox = PodSpec("sandbox", ["sleep", "3600"]);
        sandbox["hostname"] = "web-0";
        sandbox["linux"]!["sysctl"] = new JsonObject
        {
            ["kernel.shm_rmid_forced"] = "1", ["net.ipv4.ip_unprivileged_port_start"] = "0",
        };
        await CreateAsync("s1", sandbox, PodRole.Sandbox);
        await StartAsync("s1");

        // A serves a file on 127.0.0.1:8080 after leaving a file in /dev/shm; its spec's own hostname must not rename the pod.
        var appA = PodSpec("container", ["sh", "-c", $"{Identity}; echo shm-from-a > /dev/shm/from-a; exec httpd -f -p 8080 -h /www"]);
        appA["hostname"] = "not-the-pod";
        await CreateAsync("a", appA, PodRole.Container, "s1");
        Directory.CreateDirectory(Path.Combine(_vm.SharedDirectory, "containers", "a", "rootfs", "www"));
        File.WriteAllText(Path.Combine(_vm.SharedDirectory, "containers", "a", "rootfs", "www", "hello.txt"), "hello from a\n");
        await StartAsync("a");

        var appB = PodSpec("container", ["sh", "-c",
            $"{Identity}; for i in $(seq 150); do wget -q -O - http://127.0.0.1:8080/hello.txt && break; sleep 0.2; done; " +
            "cat /dev/shm/from-a; cat /proc/sys/net/ipv4/ip_unprivileged_port_start; cat /proc/sys/kernel/shm_rmid_forced"]);
        await CreateAsync("b", appB, PodRole.Container, "s1");
        await StartAsync("b");
        var b = (await _vm.ReadToEndAsync("b")).Split('\n');
        (await _vm.WaitAsync("b")).ShouldBe(0u, string.Join('\n', b));

        await _vm.Client.SignalProcessAsync(new SignalProcessRequest { ContainerId = "a", Signal = 9 }).WithTimeout(AgentVm.CallTimeout);
        var a = (await _vm.ReadToEndAsync("a")).Split('\n');
        await _vm.WaitAsync("a");
        var pause = (await ExecAsync("s1", "id", Identity)).Split('\n');

        pause[0].ShouldBe("web-0", "the sandbox container applies spec.hostname in its own UTS namespace");
        a[..4].ShouldBe(pause[..4], "app A: the pod's hostname and the sandbox's IPC, UTS and network namespaces");
        b[..4].ShouldBe(pause[..4], "app B: the same");
        b[4].ShouldBe("hello from a", "B reached A's server on 127.0.0.1");
        b[5].ShouldBe("shm-from-a", "a file A wrote in /dev/shm is B's");
        b[6].ShouldBe("0", "the pod's net.* sysctl holds in the pod's (the guest's root) network namespace");
        b[7].ShouldBe("1", "the IPC sysctl crun set in the sandbox's IPC namespace holds in the app container that joined it");

        // A plain container (ctr run's namespaces) in the same VM gets namespaces of its own, network included.
        var plainSpec = AgentVm.Spec("sh", "-c", Identity);
        plainSpec["linux"]!["namespaces"]!.AsArray().Add(Ns("network"));
        await CreateAsync("plain", plainSpec, PodRole.None);
        await StartAsync("plain");
        var plain = (await _vm.ReadToEndAsync("plain")).Split('\n');
        plain[1].ShouldNotBe(pause[1]);
        plain[3].ShouldNotBe(pause[3]);
    }

    [Fact]
    public async Task An_app_container_whose_sandbox_container_is_not_running_is_refused_with_FailedPrecondition()
    {
        await CreateAsync("gone", PodSpec("sandbox", ["true"]), PodRole.Sandbox);
        await StartAsync("gone");
        (await _vm.WaitAsync("gone")).ShouldBe(0u);

        var error = await Should.ThrowAsync<TtrpcException>(() =>
            CreateAsync("orphan", PodSpec("container", ["true"]), PodRole.Container, "gone"));

        error.Code.ShouldBe(StatusCode.FailedPrecondition);
        error.Message.ShouldContain("sandbox container gone is not running");
    }
}
