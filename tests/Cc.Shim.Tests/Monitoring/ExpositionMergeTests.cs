using Cc.Shim.Monitoring;

namespace Cc.Shim.Tests.Monitoring;

/// <summary>The node-wide merge (`metrics` command): one HELP/TYPE per family, every shim's samples under it.</summary>
public sealed class ExpositionMergeTests
{
    private const string SandboxA = """
        # HELP cc_vmm_memory_pss_bytes (By) PSS
        # TYPE cc_vmm_memory_pss_bytes gauge
        cc_vmm_memory_pss_bytes{namespace="k8s.io",sandbox="a"} 100
        # HELP cc_agent_call_duration_seconds (s) latency
        # TYPE cc_agent_call_duration_seconds histogram
        cc_agent_call_duration_seconds_sum{namespace="k8s.io",sandbox="a",method="Check"} 0.5
        cc_agent_call_duration_seconds_count{namespace="k8s.io",sandbox="a",method="Check"} 2
        cc_agent_call_duration_seconds_bucket{namespace="k8s.io",sandbox="a",method="Check",le="+Inf"} 2

        """;

    private const string SandboxB = """
        # HELP cc_agent_call_duration_seconds (s) latency
        # TYPE cc_agent_call_duration_seconds histogram
        cc_agent_call_duration_seconds_sum{namespace="default",sandbox="b",method="Check"} 0.25
        cc_agent_call_duration_seconds_count{namespace="default",sandbox="b",method="Check"} 1
        cc_agent_call_duration_seconds_bucket{namespace="default",sandbox="b",method="Check",le="+Inf"} 1
        # HELP cc_vmm_memory_pss_bytes (By) PSS
        # TYPE cc_vmm_memory_pss_bytes gauge
        cc_vmm_memory_pss_bytes{namespace="default",sandbox="b"} 200
        # HELP cc_container_pids (process) pids
        # TYPE cc_container_pids gauge
        cc_container_pids{namespace="default",sandbox="b",container="c"} 3
        """;

    [Fact]
    public void Families_appear_once_with_the_samples_of_every_sandbox_under_them()
    {
        var lines = ExpositionMerge.Merge([SandboxA, SandboxB]).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        lines.ShouldBe([
            "# HELP cc_vmm_memory_pss_bytes (By) PSS",
            "# TYPE cc_vmm_memory_pss_bytes gauge",
            "cc_vmm_memory_pss_bytes{namespace=\"k8s.io\",sandbox=\"a\"} 100",
            "cc_vmm_memory_pss_bytes{namespace=\"default\",sandbox=\"b\"} 200",
            "# HELP cc_agent_call_duration_seconds (s) latency",
            "# TYPE cc_agent_call_duration_seconds histogram",
            "cc_agent_call_duration_seconds_sum{namespace=\"k8s.io\",sandbox=\"a\",method=\"Check\"} 0.5",
            "cc_agent_call_duration_seconds_count{namespace=\"k8s.io\",sandbox=\"a\",method=\"Check\"} 2",
            "cc_agent_call_duration_seconds_bucket{namespace=\"k8s.io\",sandbox=\"a\",method=\"Check\",le=\"+Inf\"} 2",
            "cc_agent_call_duration_seconds_sum{namespace=\"default\",sandbox=\"b\",method=\"Check\"} 0.25",
            "cc_agent_call_duration_seconds_count{namespace=\"default\",sandbox=\"b\",method=\"Check\"} 1",
            "cc_agent_call_duration_seconds_bucket{namespace=\"default\",sandbox=\"b\",method=\"Check\",le=\"+Inf\"} 1",
            "# HELP cc_container_pids (process) pids",
            "# TYPE cc_container_pids gauge",
            "cc_container_pids{namespace=\"default\",sandbox=\"b\",container=\"c\"} 3",
        ]);
    }

    [Fact]
    public void A_sample_without_a_declared_family_is_its_own_family_and_not_taken_into_the_one_above()
    {
        var merged = ExpositionMerge.Merge(["# TYPE cc_x gauge\ncc_x 1\ncc_x_other 2\n", "cc_x_other 3\n"]);

        merged.ShouldBe("# TYPE cc_x gauge\ncc_x 1\ncc_x_other 2\ncc_x_other 3\n");
    }

    [Fact]
    public void Nothing_to_merge_is_an_empty_exposition() => ExpositionMerge.Merge([]).ShouldBe("");
}
