using System.Text;
using Cc.Agent.Runtime;

namespace Cc.Agent.Tests;

/// <summary>
/// CreateContainer waits for the modules loaded after ready only when the container could see them missing
/// (DeferredModuleNeed): the first container of a cold `ctr run` (default caps, its own network namespace, no devices)
/// is created at once; anything that could mount, make links, open a device or use the guest's NICs still waits.
/// </summary>
public sealed class DeferredModuleNeedTests
{
    // The shape of containerd's default spec for `ctr run`: default capabilities, the standard mounts, fresh namespaces.
    private const string Plain = """
        {
          "process": { "args": ["/bin/true"], "capabilities": {
            "bounding": ["CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL"], "effective": ["CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL"],
            "permitted": ["CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL"] } },
          "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs" },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts" },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm" },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue" },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs" },
            { "destination": "/run", "type": "tmpfs", "source": "tmpfs" },
            { "destination": "/etc/hosts", "type": "bind", "source": "/x/hosts", "options": ["rbind"] },
            { "destination": "/etc/resolv.conf", "source": "/x/resolv.conf", "options": ["rbind"] }
          ],
          "linux": { "namespaces": [ { "type": "pid" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" },
            { "type": "network" } ] }
        }
        """;

    private static bool Needs(string json) => DeferredModuleNeed.NeedsDeferredModules(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void A_plain_container_needs_none() => Needs(Plain).ShouldBeFalse();

    [Theory]
    [InlineData("CAP_SYS_ADMIN")]
    [InlineData("CAP_NET_ADMIN")]
    public void A_capability_to_mount_or_make_links_needs_them(string capability) =>
        Needs(Plain.Replace("\"CAP_KILL\"] } }", $"\"CAP_KILL\"], \"ambient\": [\"{capability}\"] }} }}", StringComparison.Ordinal))
            .ShouldBeTrue();

    [Fact]
    public void A_device_needs_them() =>
        Needs(Plain.Replace("\"linux\": {", "\"linux\": { \"devices\": [ { \"path\": \"/dev/fuse\", \"type\": \"c\", \"major\": 10, \"minor\": 229 } ],",
            StringComparison.Ordinal)).ShouldBeTrue();

    [Theory]
    [InlineData("overlay")]
    [InlineData("virtiofs")]
    [InlineData("fuse.sshfs")]
    public void A_mount_of_another_type_needs_them(string type) =>
        Needs(Plain.Replace("\"type\": \"mqueue\"", $"\"type\": \"{type}\"", StringComparison.Ordinal)).ShouldBeTrue();

    [Fact]
    public void A_user_namespace_needs_them() =>
        Needs(Plain.Replace("{ \"type\": \"pid\" }", "{ \"type\": \"user\" }, { \"type\": \"pid\" }", StringComparison.Ordinal))
            .ShouldBeTrue();

    [Fact]
    public void The_guest_network_namespace_needs_them()
    {
        // No network namespace: the guest's own, with the pod's NICs (virtio_net).
        Needs(Plain.Replace("{ \"type\": \"network\" }", "{ \"type\": \"cgroup\" }", StringComparison.Ordinal)).ShouldBeTrue();
        // One with a host path: the agent runs the container in the guest's root namespace.
        Needs(Plain.Replace("{ \"type\": \"network\" }", "{ \"type\": \"network\", \"path\": \"/var/run/netns/x\" }",
            StringComparison.Ordinal)).ShouldBeTrue();
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[]")]
    public void A_spec_that_cannot_be_read_needs_them(string json) => Needs(json).ShouldBeTrue();
}
