using System.Text.Json.Nodes;
using Cc.Integration.Docker.Harness;

namespace Cc.Integration.Docker;

/// <summary>
/// OCI annotations are visible to the workload under cc: a read-only JSON object at /run/cc/annotations.json in the
/// container (src/Cc.Agent/Runtime/AnnotationsFile.cs). runc has no such place; its containers see none.
/// </summary>
[Collection(DockerCollection.Name)]
[Trait("Category", "Docker")]
public sealed class DockerAnnotationTests(DockerFixture fixture) : DockerTestBase(fixture)
{
    private const string AnnotationsPath = "/run/cc/annotations.json";

    [Fact]
    public async Task Docker_run_annotations_are_a_read_only_json_file_in_the_container()
    {
        var lines = await InContainerAsync("cc",
            ["--annotation", "com.example.team=storage", "--annotation", "com.example.note=two words, \"quoted\""],
            $"cat {AnnotationsPath}; echo; {{ echo overwritten > {AnnotationsPath}; }} 2>&1 || echo write-refused");

        var annotations = JsonNode.Parse(lines[0])!.AsObject();
        annotations["com.example.team"]!.GetValue<string>().ShouldBe("storage");
        annotations["com.example.note"]!.GetValue<string>().ShouldBe("two words, \"quoted\"");
        lines[^1].ShouldBe("write-refused");
        lines.ShouldContain(l => l.Contains("Read-only file system", StringComparison.Ordinal), string.Join('\n', lines));
    }

    [Fact]
    public async Task A_container_without_annotations_has_no_annotations_file()
    {
        var lines = await InContainerAsync("cc", [], $"test -e {AnnotationsPath} && echo present || echo absent");

        lines.ShouldBe(["absent"]);
    }
}
