namespace Cc.Hypervisor.Tests.Qemu;

public sealed class HostCapabilitiesTests
{
    private const string CpuInfo = """
        processor	: 0
        model name	: Intel(R) Xeon(R) Processor
        cpu MHz		: 2100.000
        flags		: fpu vme de pse tsc msr constant_tsc vmx nonstop_tsc

        processor	: 1
        cpu MHz		: 1800.000
        """;

    [Fact]
    public void The_TSC_rate_is_the_first_cpu_MHz_in_kHz() =>
        HostCapabilities.ParseTscKhz(CpuInfo).ShouldBe(2_100_000);

    [Fact]
    public void A_cpuinfo_without_cpu_MHz_has_no_TSC_rate() =>
        HostCapabilities.ParseTscKhz("processor : 0\n").ShouldBeNull();

    [Fact]
    public void Cpu_flags_are_matched_as_whole_words()
    {
        HostCapabilities.HasCpuFlag(CpuInfo, "vmx").ShouldBeTrue();
        HostCapabilities.HasCpuFlag(CpuInfo, "svm").ShouldBeFalse();
        HostCapabilities.HasCpuFlag(CpuInfo, "tsc").ShouldBeTrue();
        HostCapabilities.HasCpuFlag(CpuInfo, "ts").ShouldBeFalse();
    }
}
