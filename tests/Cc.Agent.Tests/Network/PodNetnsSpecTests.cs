using System.Text;
using System.Text.Json.Nodes;
using Cc.Agent.Runtime;

namespace Cc.Agent.Tests.Network;

public sealed class PodNetnsSpecTests
{
    [Fact]
    public void A_container_that_joins_a_host_network_namespace_runs_in_the_guests_root_one_and_a_fresh_one_stays_fresh()
    {
        const string Spec = """
            {"ociVersion":"1.0.2","process":{"args":["sh"]},"root":{"path":"rootfs"},
             "linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/var/run/netns/cni-1"},{"type":"ipc","path":"/proc/9/ns/ipc"}]}}
            """;
        const string Fresh = """
            {"ociVersion":"1.0.2","process":{"args":["sh"]},"root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"network"}]}}
            """;

        var joined = JsonNode.Parse(OciSpec.RewriteConfig(Encoding.UTF8.GetBytes(Spec), "/r", terminal: false))!["linux"]!["namespaces"]!;
        var fresh = JsonNode.Parse(OciSpec.RewriteConfig(Encoding.UTF8.GetBytes(Fresh), "/r", terminal: false))!["linux"]!["namespaces"]!;

        joined.ToJsonString().ShouldBe("""[{"type":"pid"},{"type":"ipc"},{"type":"cgroup"}]""");
        fresh.ToJsonString().ShouldBe("""[{"type":"network"},{"type":"cgroup"}]""");
    }
}
