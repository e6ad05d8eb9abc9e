using System.Text;
using System.Text.Json.Nodes;
using Cc.Agent.Runtime;

namespace Cc.Agent.Tests;

/// <summary>
/// A standalone container that joins the VM's network (its spec names a host network namespace: CNI's with ctr, the one
/// the shim made for Docker) runs in the guest's root network namespace, where CreateSandbox applied its net.* sysctls;
/// crun refuses them without a network namespace of the container's own (docs/docker.md, "Networking").
/// </summary>
public sealed class OciSpecNetworkSysctlTests
{
    private static JsonObject Rewrite(string network) =>
        JsonNode.Parse(OciSpec.RewriteConfig(Encoding.UTF8.GetBytes(
            """{"process":{"args":["sh"]},"root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"pid"},""" + network
            + """],"sysctl":{"net.ipv4.ip_unprivileged_port_start":"0","kernel.msgmax":"65536"}}}"""),
            "/run/cc/shared/containers/c1/rootfs", terminal: false))!.AsObject();

    [Fact]
    public void A_container_joining_the_vms_network_loses_its_net_sysctls_and_keeps_the_others()
    {
        var spec = Rewrite("""{"type":"network","path":"/run/cc/moby/c1/netns"}""");

        spec["linux"]!["namespaces"]!.AsArray().Select(n => n!["type"]!.GetValue<string>()).ShouldNotContain("network");
        spec["linux"]!["sysctl"]!.AsObject().Select(p => p.Key).ShouldBe(["kernel.msgmax"]);
    }

    [Fact]
    public void A_container_with_a_fresh_network_namespace_keeps_its_net_sysctls()
    {
        var spec = Rewrite("""{"type":"network"}""");

        spec["linux"]!["sysctl"]!.AsObject().Select(p => p.Key).ShouldBe(["net.ipv4.ip_unprivileged_port_start", "kernel.msgmax"], ignoreOrder: true);
    }
}
