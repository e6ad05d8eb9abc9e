using System.Text;
using System.Text.Json.Nodes;
using Cc.Agent.Runtime;

namespace Cc.Agent.Tests;

public sealed class OciSpecVersionTests
{
    private static JsonObject Rewrite(string ociVersion)
    {
        var json = "{\"ociVersion\":\"" + ociVersion + "\",\"process\":{\"args\":[\"sh\"]},\"root\":{\"path\":\"rootfs\"}}";
        var rewritten = OciSpec.RewriteConfig(Encoding.UTF8.GetBytes(json), "/run/cc/shared/containers/c1/rootfs", terminal: false);
        return (JsonObject)JsonNode.Parse(rewritten)!;
    }

    [Theory]
    [InlineData("1.1.0-rc.1")]
    [InlineData("1.1.0")]
    [InlineData("1.2.0")]
    public void A_runtime_spec_1_x_document_from_containerd_1_7_is_presented_to_the_guest_crun_as_1_0(string version)
    {
        Rewrite(version)["ociVersion"]!.GetValue<string>().ShouldBe(OciSpec.GuestRuntimeSpecVersion);
    }

    [Theory]
    [InlineData("1.0.2-dev")]
    [InlineData("1.0.0")]
    [InlineData("2.0.0")]
    public void A_1_0_document_or_an_unknown_major_is_left_as_sent(string version)
    {
        Rewrite(version)["ociVersion"]!.GetValue<string>().ShouldBe(version);
    }
}
