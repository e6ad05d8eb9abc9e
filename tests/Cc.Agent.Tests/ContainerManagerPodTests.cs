using System.Text;
using System.Text.Json.Nodes;
using Cc.Agent.Containers;
using Cc.Agent.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Agent.Tests;

// App containers join their pod's sandbox container: the checks before crun, and the join itself with the host's crun.
public sealed class ContainerManagerPodTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private readonly BusyboxBundle _world = new();
    private readonly ContainerManager _manager;

    public ContainerManagerPodTests() => _manager = new ContainerManager(_world.Options, NullLoggerFactory.Instance);

    private static byte[] AppSpec(params string[] args)
    {
        var spec = BusyboxBundle.SpecObject(args);
        spec["linux"]!["namespaces"] = new JsonArray(
            new JsonObject { ["type"] = "pid" },
            new JsonObject { ["type"] = "ipc", ["path"] = "/proc/1/ns/ipc" },
            new JsonObject { ["type"] = "uts", ["path"] = "/proc/1/ns/uts" },
            new JsonObject { ["type"] = "mount" },
            new JsonObject { ["type"] = "network", ["path"] = "/proc/1/ns/net" });
        return Encoding.UTF8.GetBytes(spec.ToJsonString());
    }

    private Task<int> CreateAsync(string id, byte[] spec, PodPlacement placement) =>
        _manager.CreateAsync(id, spec, _world.Rootfs, terminal: false, stdin: false, placement, CancellationToken.None)
            .WaitAsync(s_timeout);

    [Fact]
    public async Task An_app_container_whose_sandbox_is_not_in_the_vm_is_a_failed_precondition()
    {
        var error = await Should.ThrowAsync<AgentErrorException>(
            CreateAsync("a1", AppSpec("true"), new PodPlacement(PodRole.Container, "s1")));

        error.Kind.ShouldBe(AgentErrorKind.FailedPrecondition);
        error.Message.ShouldContain("sandbox container s1 does not exist");
    }

    [Fact]
    public async Task An_app_container_naming_a_container_that_is_not_a_pod_sandbox_is_a_failed_precondition()
    {
        await CreateAsync("plain", BusyboxBundle.Spec("sleep", "30"), PodPlacement.Standalone);

        var error = await Should.ThrowAsync<AgentErrorException>(
            CreateAsync("a1", AppSpec("true"), new PodPlacement(PodRole.Container, "plain")));

        error.Kind.ShouldBe(AgentErrorKind.FailedPrecondition);
        error.Message.ShouldContain("not a pod sandbox container");
    }

    [Fact]
    public async Task An_app_container_without_a_sandbox_id_is_an_invalid_argument()
    {
        var error = await Should.ThrowAsync<AgentErrorException>(
            CreateAsync("a1", AppSpec("true"), new PodPlacement(PodRole.Container, "")));

        error.Kind.ShouldBe(AgentErrorKind.InvalidArgument);
    }

    [Fact]
    public async Task An_app_container_shares_the_sandbox_inits_ipc_and_uts_namespaces_and_sees_the_pods_hostname()
    {
        var sandboxSpec = BusyboxBundle.SpecObject("sleep", "30");
        sandboxSpec["hostname"] = "web-0";
        var sandboxPid = await CreateAsync("s1", Encoding.UTF8.GetBytes(sandboxSpec.ToJsonString()), new PodPlacement(PodRole.Sandbox, ""));
        await _manager.StartAsync("s1", CancellationToken.None).WaitAsync(s_timeout);

        await CreateAsync("a1", AppSpec("sh", "-c", "readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts; hostname"),
            new PodPlacement(PodRole.Container, "s1"));
        await _manager.StartAsync("a1", CancellationToken.None).WaitAsync(s_timeout);
        var output = await ReadAllAsync("a1");

        output.ShouldBe($"{Link(sandboxPid, "ipc")}\n{Link(sandboxPid, "uts")}\nweb-0\n");
        Link(sandboxPid, "ipc").ShouldNotBe(Link(Environment.ProcessId, "ipc"), "the sandbox has an IPC namespace of its own");
    }

    private static string Link(int pid, string type) => new FileInfo($"/proc/{pid}/ns/{type}").LinkTarget!;

    private async Task<string> ReadAllAsync(string id)
    {
        var text = new StringBuilder();
        while (true)
        {
            var (chunk, _) = await _manager.ReadAsync(id, "", ContainerManager.OutputStream.Stdout, 4096, CancellationToken.None)
                .AsTask().WaitAsync(s_timeout);
            if (chunk.IsEmpty)
            {
                return text.ToString();
            }

            text.Append(Encoding.UTF8.GetString(chunk.Span));
        }
    }

    public void Dispose()
    {
        _manager.RemoveAllAsync(CancellationToken.None).Wait(s_timeout);
        _world.Dispose();
    }
}
