using Cc.Shim.Monitoring;

namespace Cc.Shim.Tests.Monitoring;

/// <summary>The text exposition format 0.0.4 as <see cref="PrometheusTextWriter"/> writes it: lines, escapes, values, histograms.</summary>
public sealed class PrometheusTextWriterTests
{
    private static readonly Label[] Sandbox = [new("namespace", "k8s.io"), new("sandbox", "sb1")];

    [Fact]
    public void A_family_is_its_help_and_type_lines_then_its_samples_with_the_constant_labels_after_their_own()
    {
        var text = new PrometheusTextWriter(Sandbox);

        text.Family("cc_vmm_cpu_seconds", "gauge", "CPU time of QEMU.");
        text.Sample("cc_vmm_cpu_seconds", 1.87, new Label("mode", "user"));
        text.Sample("cc_vmm_cpu_seconds", 0.45, new Label("mode", "system"));

        text.ToString().ShouldBe(
            "# HELP cc_vmm_cpu_seconds CPU time of QEMU.\n"
            + "# TYPE cc_vmm_cpu_seconds gauge\n"
            + "cc_vmm_cpu_seconds{mode=\"user\",namespace=\"k8s.io\",sandbox=\"sb1\"} 1.87\n"
            + "cc_vmm_cpu_seconds{mode=\"system\",namespace=\"k8s.io\",sandbox=\"sb1\"} 0.45\n");
    }

    [Fact]
    public void A_sample_without_any_label_has_no_braces()
    {
        var text = new PrometheusTextWriter([]);

        text.Sample("up", 1);

        text.ToString().ShouldBe("up 1\n");
    }

    [Fact]
    public void Label_values_escape_backslash_quote_and_line_feed_and_help_escapes_backslash_and_line_feed_only()
    {
        var text = new PrometheusTextWriter([new Label("sandbox", "a\"b")]);

        text.Family("x", "gauge", "a \"quoted\" C:\\path\nsecond line");
        text.Sample("x", 1, new Label("container", "c\\1\n\"2\""));

        text.ToString().ShouldBe(
            "# HELP x a \"quoted\" C:\\\\path\\nsecond line\n"
            + "# TYPE x gauge\n"
            + "x{container=\"c\\\\1\\n\\\"2\\\"\",sandbox=\"a\\\"b\"} 1\n");
    }

    [Theory]
    [InlineData(0.0, "0")]
    [InlineData(0.004, "0.004")]
    [InlineData(1073741824.0, "1073741824")]
    [InlineData(1e20, "1E+20")]
    [InlineData(-2.5, "-2.5")]
    [InlineData(double.PositiveInfinity, "+Inf")]
    [InlineData(double.NegativeInfinity, "-Inf")]
    [InlineData(double.NaN, "NaN")]
    public void Values_are_written_as_prometheus_parses_them(double value, string expected) =>
        PrometheusTextWriter.FormatValue(value).ShouldBe(expected);

    [Fact]
    public void A_histogram_has_cumulative_buckets_with_le_last_then_inf_sum_and_count()
    {
        var histogram = new CumulativeHistogram([1, 2, 4]);
        histogram.Observe(3);
        histogram.Observe(2); // on a bound: counted in that bucket (le is "less than or equal")
        histogram.Observe(0.5);
        histogram.Observe(10); // above every bound: only in +Inf
        var text = new PrometheusTextWriter(Sandbox);

        text.Histogram("cc_d", histogram.Read(), new Label("method", "Check"));

        text.ToString().ShouldBe(
            "cc_d_bucket{method=\"Check\",namespace=\"k8s.io\",sandbox=\"sb1\",le=\"1\"} 1\n"
            + "cc_d_bucket{method=\"Check\",namespace=\"k8s.io\",sandbox=\"sb1\",le=\"2\"} 2\n"
            + "cc_d_bucket{method=\"Check\",namespace=\"k8s.io\",sandbox=\"sb1\",le=\"4\"} 3\n"
            + "cc_d_bucket{method=\"Check\",namespace=\"k8s.io\",sandbox=\"sb1\",le=\"+Inf\"} 4\n"
            + "cc_d_sum{method=\"Check\",namespace=\"k8s.io\",sandbox=\"sb1\"} 15.5\n"
            + "cc_d_count{method=\"Check\",namespace=\"k8s.io\",sandbox=\"sb1\"} 4\n");
    }

    [Fact]
    public void The_agent_latency_bounds_double_from_1_ms_to_32_768_s_and_print_exactly()
    {
        AgentCallTally.LatencyBounds.Select(PrometheusTextWriter.FormatValue).ShouldBe(
            ["0.001", "0.002", "0.004", "0.008", "0.016", "0.032", "0.064", "0.128", "0.256", "0.512",
                "1.024", "2.048", "4.096", "8.192", "16.384", "32.768"]);
    }
}
