using System.Text;
using Cc.Shim.Sandbox;

namespace Cc.Shim.Tests;

/// <summary>The AppArmor and SELinux labels the shim logs as ignored (docs/compatibility.md).</summary>
public sealed class SpecSecurityLabelsTests
{
    private static IReadOnlyList<(string Field, string Value)> Find(string json) => SpecSecurityLabels.Find(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void Each_label_present_is_found_with_its_field_and_value()
    {
        var found = Find("""
            {"process":{"args":["sh"],"apparmorProfile":"docker-default","selinuxLabel":"system_u:system_r:container_t:s0"},
             "linux":{"mountLabel":"system_u:object_r:container_file_t:s0"}}
            """);

        found.ShouldBe([
            ("process.apparmorProfile", "docker-default"),
            ("process.selinuxLabel", "system_u:system_r:container_t:s0"),
            ("linux.mountLabel", "system_u:object_r:container_file_t:s0"),
        ]);
    }

    [Theory]
    [InlineData("""{"process":{"args":["sh"]},"linux":{}}""")]
    [InlineData("""{"process":{"args":["sh"],"apparmorProfile":""}}""")]
    [InlineData("""{"process":{"apparmorProfile":7}}""")]
    [InlineData("not json")]
    [InlineData("[]")]
    public void A_spec_without_labels_or_malformed_has_none(string json)
    {
        Find(json).ShouldBeEmpty();
    }
}
