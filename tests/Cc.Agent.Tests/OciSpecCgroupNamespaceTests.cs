using System.Text;
using System.Text.Json.Nodes;
using Cc.Agent.Runtime;

namespace Cc.Agent.Tests;

/// <summary>
/// Every container gets a cgroup namespace of its own in the guest, so its /sys/fs/cgroup is its own cgroup (Docker on
/// a cgroup v1 host asks for none; docs/docker.md).
/// </summary>
public sealed class OciSpecCgroupNamespaceTests
{
    private static JsonArray NamespacesAfterRewrite(string linux)
    {
        var json = "{\"process\":{\"args\":[\"sh\"]},\"root\":{\"path\":\"rootfs\"}" + linux + "}";
        var rewritten = OciSpec.RewriteConfig(Encoding.UTF8.GetBytes(json), "/run/cc/shared/containers/c1/rootfs", terminal: false);
        return (JsonArray)JsonNode.Parse(rewritten)!["linux"]!["namespaces"]!;
    }

    private static string[] Types(JsonArray namespaces) =>
        [.. namespaces.Select(ns => ns!["type"]!.GetValue<string>())];

    [Fact]
    public void A_spec_without_a_cgroup_namespace_gets_one()
    {
        var namespaces = NamespacesAfterRewrite(",\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"}]}");

        Types(namespaces).ShouldBe(["pid", "mount", "cgroup"]);
        namespaces[2]!.AsObject().ContainsKey("path").ShouldBeFalse();
    }

    [Fact]
    public void A_spec_without_a_linux_section_gets_one_with_a_cgroup_namespace()
    {
        Types(NamespacesAfterRewrite("")).ShouldBe(["cgroup"]);
    }

    [Fact]
    public void A_host_cgroup_namespace_path_is_dropped_and_not_duplicated()
    {
        var namespaces = NamespacesAfterRewrite(",\"linux\":{\"namespaces\":[{\"type\":\"cgroup\",\"path\":\"/proc/1/ns/cgroup\"}]}");

        Types(namespaces).ShouldBe(["cgroup"]);
        namespaces[0]!.AsObject().ContainsKey("path").ShouldBeFalse();
    }
}
