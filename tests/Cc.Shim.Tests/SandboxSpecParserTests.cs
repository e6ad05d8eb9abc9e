using System.Text;
using Cc.Shim.Sandbox;
using Cc.Shim.Tests.Fixtures;

namespace Cc.Shim.Tests;

public sealed class SandboxSpecParserTests
{
    private static (SandboxSpec Sandbox, PodMembership Membership) Parse(string json, string id) =>
        SandboxSpecParser.Parse(Encoding.UTF8.GetBytes(json), id);

    [Fact]
    public void A_containerd_pause_container_gives_the_pod_its_identity_hostname_netns_sysctls_dns_and_resources()
    {
        var (spec, membership) = Parse(CriSpecs.Sandbox17, CriSpecs.PodSandboxId);

        membership.ShouldBe(new PodMembership(PodRole.Sandbox, ""));
        spec.IsCriSandbox.ShouldBeTrue();
        spec.Pod.ShouldBe(new PodIdentity("web-0", "default", "0d6b2c3e-8f8a-4c1e-9b7d-2a5e1f3c4d6b"));
        spec.Hostname.ShouldBe("web-0");
        spec.Network.ShouldBe(new SandboxNetwork(true, "/var/run/netns/cni-1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901"));
        spec.NetworkNamespacePath.ShouldBe("/var/run/netns/cni-1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901");
        spec.Sysctls.ShouldBe(new Dictionary<string, string>
        {
            ["net.ipv4.ip_unprivileged_port_start"] = "0",
            ["net.ipv4.ping_group_range"] = "0 2147483647",
            ["kernel.shm_rmid_forced"] = "1",
        }, ignoreOrder: true);
        spec.ResolvConfPath.ShouldBe(
            $"/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/{CriSpecs.PodSandboxId}/resolv.conf");
        spec.Resources.ShouldBe(new PodResources(100000, 250000, 2560, 805306368));
        spec.Resources.CpuLimit.ShouldBe(3, "ceil(250000 / 100000)");
        spec.Resources.MemoryLimitMiB.ShouldBe(768);
    }

    [Fact]
    public void An_app_container_names_its_sandbox_and_does_not_make_a_pod()
    {
        var (spec, membership) = Parse(CriSpecs.App17, "9a8b7c6d");

        membership.ShouldBe(new PodMembership(PodRole.Container, CriSpecs.PodSandboxId));
        spec.IsCriSandbox.ShouldBeFalse();
        spec.Pod.ShouldBeNull();
        spec.Hostname.ShouldBe("9a8b7c6d");
    }

    [Fact]
    public void A_plain_ctr_run_container_gets_defaults_with_the_id_as_hostname_cut_to_63_bytes()
    {
        var id = new string('a', 70);
        var (spec, membership) = Parse(CriSpecs.CtrRun, id);

        membership.ShouldBe(PodMembership.Standalone);
        spec.IsCriSandbox.ShouldBeFalse();
        spec.Hostname.ShouldBe(new string('a', 63));
        spec.Network.ShouldBe(SandboxNetwork.Fresh);
        spec.NetworkNamespacePath.ShouldBeNull();
        spec.Sysctls.ShouldBeEmpty();
        spec.ResolvConfPath.ShouldBeNull();
        spec.Resources.ShouldBe(PodResources.None);
        Should.NotThrow(() => SandboxSpecParser.CheckLaunchable(spec));
    }

    [Fact]
    public void A_host_network_pod_is_refused_with_the_documented_reason()
    {
        var (spec, _) = Parse(CriSpecs.HostNetworkSandbox, "hn");

        spec.Network.ShouldBe(SandboxNetwork.Host);
        Should.Throw<PreconditionFailedException>(() => SandboxSpecParser.CheckLaunchable(spec))
            .Message.ShouldBe("host network pods are not supported by io.containerd.cc.v2: the pod runs in its own VM");
    }

    [Fact]
    public void A_non_cri_container_without_a_network_namespace_is_launchable()
    {
        var (spec, _) = Parse("""{"process":{"args":["sh"]},"linux":{"namespaces":[{"type":"pid"}]}}""", "c");

        spec.Network.ShouldBe(SandboxNetwork.Host);
        Should.NotThrow(() => SandboxSpecParser.CheckLaunchable(spec));
    }

    [Theory]
    [InlineData("io.kubernetes.cri-o.ContainerType", "sandbox", "io.kubernetes.cri-o.SandboxID", PodRole.Sandbox)]
    [InlineData("io.kubernetes.cri-o.ContainerType", "container", "io.kubernetes.cri-o.SandboxID", PodRole.Container)]
    [InlineData("io.kubernetes.docker.type", "podsandbox", "io.kubernetes.sandbox.id", PodRole.Sandbox)]
    [InlineData("io.kubernetes.docker.type", "container", "io.kubernetes.sandbox.id", PodRole.Container)]
    public void The_cri_o_and_dockershim_forms_are_recognised(string typeKey, string type, string sandboxKey, PodRole role)
    {
        var (_, membership) = Parse($$$"""{"annotations":{"{{{typeKey}}}":"{{{type}}}","{{{sandboxKey}}}":"pod1"}}""", "c1");

        membership.Role.ShouldBe(role);
        membership.SandboxContainerId.ShouldBe(role == PodRole.Container ? "pod1" : "");
    }

    [Theory]
    [InlineData("""{"annotations":{"io.kubernetes.cri.container-type":"container"}}""", "without a sandbox id")]
    [InlineData("""{"annotations":{"io.kubernetes.cri.container-type":"pod"}}""", "neither")]
    [InlineData("""{"annotations":{"io.kubernetes.cri.sandbox-memory":"lots"}}""", "is not an integer")]
    [InlineData("""{"hostname":"0123456789012345678901234567890123456789012345678901234567890123"}""", "longer than 63")]
    [InlineData("""{"linux":{"sysctl":{"net.core.somaxconn":1024}}}""", "not a string")]
    [InlineData("""{"linux":{"namespaces":[{"type":"network","path":"netns/x"}]}}""", "not absolute")]
    [InlineData("""[1]""", "not a JSON object")]
    public void Malformed_pod_fields_are_invalid_requests_naming_the_field(string json, string reason)
    {
        Should.Throw<InvalidRequestException>(() => Parse(json, "c1")).Message.ShouldContain(reason);
    }

    [Theory]
    [InlineData(512, 1, null, null, null, 512, 1)]
    [InlineData(512, 1, 805306368L, 100000UL, 250000L, 768 + VmSizing.GuestOverheadMiB, 3)]
    [InlineData(2048, 4, 805306368L, 100000UL, 250000L, 2048, 4)]
    [InlineData(512, 1, 0L, 100000UL, -1L, 512, 1)]
    public void The_vm_is_the_larger_of_the_configuration_and_the_pods_limits_plus_overhead(int memory, int vcpus,
        long? podMemory, ulong? period, long? quota, int expectedMemory, int expectedVcpus)
    {
        VmSizing.Compute(memory, vcpus, new PodResources(period, quota, null, podMemory))
            .ShouldBe((expectedMemory, expectedVcpus));
    }
}
