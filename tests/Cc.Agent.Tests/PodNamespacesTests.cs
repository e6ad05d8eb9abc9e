using System.Text;
using System.Text.Json.Nodes;
using Cc.Agent.Containers;
using Cc.Agent.Runtime;

namespace Cc.Agent.Tests;

// The namespaces of a CRI pod's containers, as written into the guest spec for crun.
public sealed class PodNamespacesTests
{
    // containerd 1.7's shapes: the pause container with CNI's netns, an app container whose paths name the pause's host pid.
    private const string Sandbox = """
        {"ociVersion":"1.1.0-rc.1","hostname":"web-0","process":{"args":["/pause"]},"root":{"path":"rootfs","readonly":true},
         "mounts":[{"destination":"/dev/shm","type":"bind","source":"/run/containerd/io.containerd.grpc.v1.cri/sandboxes/s1/shm","options":["rbind","ro"]}],
         "linux":{"sysctl":{"net.ipv4.ip_unprivileged_port_start":"0","kernel.shm_rmid_forced":"1"},
           "namespaces":[{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"network","path":"/var/run/netns/cni-1"}]}}
        """;

    private const string App = """
        {"ociVersion":"1.1.0-rc.1","process":{"args":["sh"]},"root":{"path":"rootfs"},
         "mounts":[{"destination":"/etc/hosts","type":"bind","source":"/run/cc/shared/containers/a1/mounts/0","options":["rbind","rw"]},
                   {"destination":"/dev/shm","type":"bind","source":"/run/containerd/io.containerd.grpc.v1.cri/sandboxes/s1/shm","options":["rbind","rw"]}],
         "linux":{"namespaces":[{"type":"pid"},{"type":"ipc","path":"/proc/4242/ns/ipc"},{"type":"uts","path":"/proc/4242/ns/uts"},
           {"type":"mount"},{"type":"network","path":"/proc/4242/ns/net"},{"type":"cgroup","path":"/proc/4242/ns/cgroup"}]}}
        """;

    private static JsonObject Rewrite(string json, PodNamespaces pod) =>
        (JsonObject)JsonNode.Parse(OciSpec.RewriteConfig(Encoding.UTF8.GetBytes(json), "/run/cc/shared/containers/x/rootfs",
            terminal: false, pod))!;

    private static Dictionary<string, string?> Namespaces(JsonObject spec) =>
        spec["linux"]!["namespaces"]!.AsArray().ToDictionary(n => n!["type"]!.GetValue<string>(), n => n!["path"]?.GetValue<string>());

    private static string ShmSource(JsonObject spec) =>
        spec["mounts"]!.AsArray().Single(m => m!["destination"]!.GetValue<string>() == "/dev/shm")!["source"]!.GetValue<string>();

    [Fact]
    public void The_sandbox_container_runs_in_the_guests_root_network_with_fresh_ipc_uts_and_pid_and_keeps_its_hostname()
    {
        var spec = Rewrite(Sandbox, new PodNamespaces(PodRole.Sandbox, 0, "/run/cc/pod/shm"));

        Namespaces(spec).ShouldBe(new Dictionary<string, string?> { ["pid"] = null, ["ipc"] = null, ["uts"] = null, ["mount"] = null, ["cgroup"] = null });
        spec["hostname"]!.GetValue<string>().ShouldBe("web-0");
        var sysctl = spec["linux"]!["sysctl"]!.AsObject();
        sysctl.ContainsKey("net.ipv4.ip_unprivileged_port_start").ShouldBeFalse("net.* was applied VM-wide by CreateSandbox");
        sysctl["kernel.shm_rmid_forced"]!.GetValue<string>().ShouldBe("1");
        ShmSource(spec).ShouldBe("/run/cc/pod/shm");
    }

    [Fact]
    public void An_app_container_joins_the_sandbox_inits_ipc_and_uts_and_gets_fresh_pid_mount_and_cgroup()
    {
        var spec = Rewrite(App, new PodNamespaces(PodRole.Container, 77, "/run/cc/pod/shm"));

        Namespaces(spec).ShouldBe(new Dictionary<string, string?>
        {
            ["pid"] = null, ["ipc"] = "/proc/77/ns/ipc", ["uts"] = "/proc/77/ns/uts", ["mount"] = null, ["cgroup"] = null,
        });
        ShmSource(spec).ShouldBe("/run/cc/pod/shm");
        spec["mounts"]![0]!["source"]!.GetValue<string>().ShouldBe("/run/cc/shared/containers/a1/mounts/0");
    }

    [Fact]
    public void A_shared_process_namespace_joins_the_sandboxs_pid_namespace_and_a_joined_uts_drops_the_hostname()
    {
        var json = App.Replace("""{"type":"pid"}""", """{"type":"pid","path":"/proc/4242/ns/pid"}""", StringComparison.Ordinal)
            .Replace("""{"ociVersion":"1.1.0-rc.1",""", """{"ociVersion":"1.1.0-rc.1","hostname":"other",""", StringComparison.Ordinal);

        var spec = Rewrite(json, new PodNamespaces(PodRole.Container, 77, "/run/cc/pod/shm"));

        Namespaces(spec)["pid"].ShouldBe("/proc/77/ns/pid");
        spec.ContainsKey("hostname").ShouldBeFalse();
    }

    [Fact]
    public void A_standalone_container_that_joins_a_host_netns_runs_in_the_guests_root_one_and_keeps_its_dev_shm_bind_as_sent()
    {
        var spec = Rewrite(App, PodNamespaces.Standalone);

        // The host netns it names is the one the VM mirrors (docs/networking.md): no network entry = the guest's root one.
        Namespaces(spec).ShouldBe(new Dictionary<string, string?>
        {
            ["pid"] = null, ["ipc"] = null, ["uts"] = null, ["mount"] = null, ["cgroup"] = null,
        });
        ShmSource(spec).ShouldBe("/run/containerd/io.containerd.grpc.v1.cri/sandboxes/s1/shm");
    }
}
