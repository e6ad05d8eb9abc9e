using System.Text;
using System.Text.Json.Nodes;
using Cc.Agent.Runtime;

namespace Cc.Agent.Tests;

/// <summary>
/// A container's OCI annotations become a read-only JSON file at /run/cc/annotations.json inside it; a spec without
/// annotations gets neither the file nor the mount.
/// </summary>
public sealed class OciSpecAnnotationsTests
{
    private const string Bundle = "/run/cc/containers/c1";

    private static (JsonObject Config, byte[]? Annotations) Rewrite(string json)
    {
        var (config, annotations) = OciSpec.RewriteConfig(Encoding.UTF8.GetBytes(json), "/r", terminal: false,
            PodNamespaces.Standalone, Bundle);
        return (JsonNode.Parse(config)!.AsObject(), annotations);
    }

    [Fact]
    public void Annotations_become_a_file_bind_mounted_read_only_at_run_cc_annotations_json()
    {
        var (config, annotations) = Rewrite("""
            {"process":{"args":["sh"]},"mounts":[{"destination":"/proc","type":"proc","source":"proc"}],
             "annotations":{"com.example.team":"storage","kubernetes.io/config.seen":"2026-12-06T22:00:00Z"}}
            """);

        var file = JsonNode.Parse(annotations!)!.AsObject();
        file["com.example.team"]!.GetValue<string>().ShouldBe("storage");
        file["kubernetes.io/config.seen"]!.GetValue<string>().ShouldBe("2026-12-06T22:00:00Z");
        var mounts = config["mounts"]!.AsArray();
        mounts.Count.ShouldBe(2);
        var mount = mounts[1]!.AsObject();
        mount["destination"]!.GetValue<string>().ShouldBe("/run/cc/annotations.json");
        mount["source"]!.GetValue<string>().ShouldBe(Bundle + "/annotations.json");
        mount["options"]!.AsArray().Select(o => o!.GetValue<string>()).ShouldContain("ro");
        config["annotations"]!.AsObject().Count.ShouldBe(2, "the spec keeps its annotations for crun");
    }

    [Theory]
    [InlineData("""{"process":{"args":["sh"]}}""")]
    [InlineData("""{"process":{"args":["sh"]},"annotations":{}}""")]
    public void A_spec_without_annotations_gets_no_file_and_no_mount(string json)
    {
        var (config, annotations) = Rewrite(json);

        annotations.ShouldBeNull();
        config.ContainsKey("mounts").ShouldBeFalse();
    }
}
