using System.Text;
using System.Text.Json.Nodes;
using Cc.Shim.Sandbox;

namespace Cc.Shim.Tests;

public sealed class SpecBindMountsTests
{
    private const string Spec = """
        {"ociVersion":"1.0.2","process":{"args":["sh"]},"root":{"path":"rootfs"},
         "mounts":[
           {"destination":"/proc","type":"proc","source":"proc"},
           {"destination":"/data","type":"bind","source":"/srv/data","options":["rbind","ro"]},
           {"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid"]},
           {"destination":"/etc/hosts","source":"/var/lib/hosts","options":["bind","rw"]}
         ],
         "annotations":{"k":"v"}}
        """;

    [Fact]
    public void Bind_sources_become_guest_paths_in_the_share_and_other_mounts_stay_as_they_are()
    {
        var (spec, shares) = SpecBindMounts.Plan(Encoding.UTF8.GetBytes(Spec), "c1", "/run/cc/ns/pod/shared");

        shares.ShouldBe([
            new BindShare("/srv/data", "/run/cc/ns/pod/shared/containers/c1/mounts/0", ReadOnly: true, Recursive: true),
            new BindShare("/var/lib/hosts", "/run/cc/ns/pod/shared/containers/c1/mounts/1", ReadOnly: false, Recursive: false),
        ]);
        var mounts = JsonNode.Parse(spec)!["mounts"]!.AsArray();
        mounts[0]!["source"]!.GetValue<string>().ShouldBe("proc");
        mounts[1]!["source"]!.GetValue<string>().ShouldBe("/run/cc/shared/containers/c1/mounts/0");
        mounts[1]!["options"]!.AsArray().Select(o => o!.GetValue<string>()).ShouldBe(["rbind", "ro"]);
        mounts[2]!["source"]!.GetValue<string>().ShouldBe("shm");
        mounts[3]!["source"]!.GetValue<string>().ShouldBe("/run/cc/shared/containers/c1/mounts/1");
        JsonNode.Parse(spec)!["annotations"]!["k"]!.GetValue<string>().ShouldBe("v", "fields we do not touch survive");
    }

    [Fact]
    public void A_read_only_rbind_of_a_source_with_submounts_is_left_to_the_hosts_read_only_top_mount()
    {
        // runc's ro is the top mount's only: a tmpfs mounted below the source stays writable. Through the one 9p share
        // that tmpfs is a plain directory, so a guest-side ro would cover it too; the host's ro bind refuses the rest.
        var (spec, shares) = SpecBindMounts.Plan(Encoding.UTF8.GetBytes(Spec), "c1", "/s",
            hasSubmounts: path => path == "/srv/data");

        shares[0].ShouldBe(new BindShare("/srv/data", "/s/containers/c1/mounts/0", ReadOnly: true, Recursive: true));
        var mounts = JsonNode.Parse(spec)!["mounts"]!.AsArray();
        mounts[1]!["options"]!.AsArray().Select(o => o!.GetValue<string>()).ShouldBe(["rbind"]);
        mounts[3]!["options"]!.AsArray().Select(o => o!.GetValue<string>()).ShouldBe(["bind", "rw"]);
    }

    [Theory]
    [InlineData("rbind", false)]
    [InlineData("bind", true)]
    public void A_read_only_bind_keeps_its_ro_in_the_guest_unless_it_carries_submounts(string kind, bool submounts)
    {
        var json = "{\"mounts\":[{\"destination\":\"/d\",\"type\":\"bind\",\"source\":\"/srv/d\",\"options\":[\"" + kind + "\",\"ro\"]}]}";

        var (spec, _) = SpecBindMounts.Plan(Encoding.UTF8.GetBytes(json), "c1", "/s", hasSubmounts: _ => submounts);

        JsonNode.Parse(spec)!["mounts"]![0]!["options"]!.AsArray().Select(o => o!.GetValue<string>()).ShouldBe([kind, "ro"],
            "without submounts in the share (none below the source, or a non-recursive bind) ro means the same in the guest");
    }

    [Fact]
    public void A_spec_without_mounts_is_returned_with_nothing_to_share()
    {
        var (spec, shares) = SpecBindMounts.Plan("""{"process":{"args":["true"]}}"""u8, "c1", "/s");

        shares.ShouldBeEmpty();
        JsonNode.Parse(spec)!["process"]!["args"]![0]!.GetValue<string>().ShouldBe("true");
    }

    [Theory]
    [InlineData("""{"mounts":[{"destination":"/d","type":"bind","source":"relative/dir"}]}""", "not an absolute host path")]
    [InlineData("""{"mounts":[{"destination":"/d","type":"bind"}]}""", "not an absolute host path")]
    [InlineData("""{"mounts":""", "not valid JSON")]
    [InlineData("""[1,2]""", "not a JSON object")]
    public void A_spec_the_guest_could_not_use_is_an_invalid_request(string json, string reason)
    {
        var error = Should.Throw<InvalidRequestException>(() => SpecBindMounts.Plan(Encoding.UTF8.GetBytes(json), "c1", "/s"));

        error.Message.ShouldContain(reason);
    }

    [Fact]
    public void A_cri_containers_dev_shm_bind_names_the_guests_pod_tmpfs_and_is_not_shared_from_the_host()
    {
        var (spec, shares) = SpecBindMounts.Plan(Encoding.UTF8.GetBytes(Fixtures.CriSpecs.App17), "app1", "/s");

        var mounts = JsonNode.Parse(spec)!["mounts"]!.AsArray();
        mounts.Single(m => m!["destination"]!.GetValue<string>() == "/dev/shm")!["source"]!.GetValue<string>()
            .ShouldBe(SpecBindMounts.GuestPodShm);
        shares.Select(s => Path.GetFileName(s.HostSource)).ShouldBe(["hosts", "hostname", "resolv.conf"]);
    }

    [Fact]
    public void A_plain_containers_dev_shm_bind_is_shared_like_any_other()
    {
        var (_, shares) = SpecBindMounts.Plan(
            """{"mounts":[{"destination":"/dev/shm","type":"bind","source":"/srv/shm","options":["rbind"]}]}"""u8, "c1", "/s");

        shares.ShouldBe([new BindShare("/srv/shm", "/s/containers/c1/mounts/0", ReadOnly: false, Recursive: true)]);
    }

    [Theory]
    [InlineData("rprivate", true)]
    [InlineData("private", true)]
    [InlineData("rslave", false)]
    [InlineData("rshared", false)]
    public void A_private_propagation_keeps_later_host_mounts_out_of_the_share(string propagation, bool isPrivate)
    {
        var (_, shares) = SpecBindMounts.Plan(Encoding.UTF8.GetBytes(
            $$"""{"mounts":[{"destination":"/v","type":"bind","source":"/srv/v","options":["rbind","{{propagation}}"]}]}"""), "c1", "/s");

        shares.ShouldBe([new BindShare("/srv/v", "/s/containers/c1/mounts/0", ReadOnly: false, Recursive: true, Private: isPrivate)]);
    }
}
