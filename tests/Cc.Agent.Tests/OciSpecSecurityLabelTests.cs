using System.Text;
using System.Text.Json.Nodes;
using Cc.Agent.Runtime;

namespace Cc.Agent.Tests;

/// <summary>
/// AppArmor profiles and SELinux labels name host policy the guest does not load: the agent removes them before crun
/// reads the spec, and keeps the seccomp profile, masked and read-only paths, which the guest applies.
/// </summary>
public sealed class OciSpecSecurityLabelTests
{
    private const string Labelled = """
        {"process":{"args":["sh"],"apparmorProfile":"docker-default","selinuxLabel":"system_u:system_r:container_t:s0:c1,c2"},
         "root":{"path":"rootfs"},
         "linux":{"mountLabel":"system_u:object_r:container_file_t:s0:c1,c2",
                  "seccomp":{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]},
                  "maskedPaths":["/proc/kcore"],"readonlyPaths":["/proc/sys"]}}
        """;

    [Fact]
    public void The_config_loses_its_apparmor_profile_and_selinux_labels()
    {
        var spec = JsonNode.Parse(OciSpec.RewriteConfig(Encoding.UTF8.GetBytes(Labelled), "/r", terminal: false))!.AsObject();

        spec["process"]!.AsObject().ContainsKey("apparmorProfile").ShouldBeFalse();
        spec["process"]!.AsObject().ContainsKey("selinuxLabel").ShouldBeFalse();
        spec["linux"]!.AsObject().ContainsKey("mountLabel").ShouldBeFalse();
    }

    [Fact]
    public void The_config_keeps_its_seccomp_profile_masked_and_read_only_paths()
    {
        var spec = JsonNode.Parse(OciSpec.RewriteConfig(Encoding.UTF8.GetBytes(Labelled), "/r", terminal: false))!.AsObject();

        spec["linux"]!["seccomp"]!["defaultAction"]!.GetValue<string>().ShouldBe("SCMP_ACT_ERRNO");
        spec["linux"]!["maskedPaths"]!.AsArray().Select(p => p!.GetValue<string>()).ShouldBe(["/proc/kcore"]);
        spec["linux"]!["readonlyPaths"]!.AsArray().Select(p => p!.GetValue<string>()).ShouldBe(["/proc/sys"]);
    }

    [Fact]
    public void An_exec_loses_the_labels_it_inherited()
    {
        var json = """{"args":["sh"],"apparmorProfile":"docker-default","selinuxLabel":"system_u:system_r:container_t:s0"}""";

        var process = JsonNode.Parse(OciSpec.RewriteProcess(Encoding.UTF8.GetBytes(json), terminal: false))!.AsObject();

        process.ContainsKey("apparmorProfile").ShouldBeFalse();
        process.ContainsKey("selinuxLabel").ShouldBeFalse();
    }
}
