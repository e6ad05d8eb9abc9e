using Cc.Hypervisor.Qemu;

namespace Cc.Hypervisor.Tests.Qemu;

/// <summary>
/// What the guest kernel is told about its TSC (docs/reliability.md, "Time in the guest"): the host TSC's rate as
/// /proc/cpuinfo shows it whatever the host CPU's current frequency, tsc_early_khz only under TCG, and no tsc=reliable
/// where the host's TSC (the guest's, under TCG) is not invariant.
/// </summary>
public sealed class GuestClockParametersTests
{
    private const string Invariant = "fpu tsc msr constant_tsc nonstop_tsc tsc_known_freq hypervisor";

    private static string CpuInfo(string flags, string mhz = "1197.042", string bogomips = "4192.03") => $"""
        processor	: 0
        cpu MHz		: {mhz}
        flags		: {flags}
        bogomips	: {bogomips}

        processor	: 1
        cpu MHz		: 3400.000
        flags		: {flags}
        bogomips	: {bogomips}
        """;

    [Fact]
    public void Without_aperfmperf_or_a_cpufreq_driver_cpu_MHz_is_the_TSC_rate() =>
        HostCapabilities.ParseTscKhz(CpuInfo(Invariant, mhz: "2096.018"), cpufreqDriver: false).ShouldBe(2_096_018);

    [Theory]
    [InlineData(Invariant + " aperfmperf", false)]
    [InlineData(Invariant, true)]
    public void Where_cpu_MHz_is_the_current_core_frequency_the_rate_comes_from_bogomips(string flags, bool cpufreqDriver) =>
        // 1197 MHz (a core clocked down) would make the guest's clock run 1.75x fast; bogomips / 2 is the TSC's 2096.015 MHz.
        HostCapabilities.ParseTscKhz(CpuInfo(flags), cpufreqDriver).ShouldBe(2_096_015);

    [Theory]
    [InlineData("fpu tsc msr nonstop_tsc")]
    [InlineData("fpu tsc msr constant_tsc")]
    public void A_TSC_that_is_not_invariant_has_no_rate(string flags)
    {
        HostCapabilities.IsTscInvariant(CpuInfo(flags)).ShouldBeFalse();
        HostCapabilities.ParseTscKhz(CpuInfo(flags, mhz: "2096.018")).ShouldBeNull();
    }

    private static VmConfig Config() => new()
    {
        Kernel = new KernelConfig { Path = "/g/vmlinux", InitramfsPath = "/g/initramfs.cpio" },
        RunDirectory = "/run/cc/pod1",
    };

    [Fact]
    public void Under_TCG_with_an_invariant_TSC_the_guest_is_told_the_rate_and_trusts_its_TSC()
    {
        var parameters = KernelCommandLine.Build(Config(), new HostCapabilities(false, null, 2_096_018, false)).Split(' ');

        parameters.ShouldContain("tsc_early_khz=2096018");
        parameters.ShouldContain("tsc=reliable");
    }

    [Fact]
    public void Under_KVM_the_guest_takes_the_rate_from_KVM_not_from_the_command_line()
    {
        var parameters = KernelCommandLine.Build(Config(), new HostCapabilities(true, null, 2_096_018, false)).Split(' ');

        parameters.ShouldNotContain("tsc_early_khz=2096018");
        parameters.ShouldContain("tsc=reliable");
    }

    [Fact]
    public void Under_TCG_without_an_invariant_TSC_the_guest_keeps_its_clocksource_watchdog_and_calibrates()
    {
        var host = new HostCapabilities(false, null, null, false) { TscInvariant = false };

        var parameters = KernelCommandLine.Build(Config(), host).Split(' ');

        parameters.ShouldNotContain("tsc=reliable");
        parameters.ShouldNotContain(p => p.StartsWith("tsc_early_khz=", StringComparison.Ordinal));
        parameters.ShouldContain("no_timer_check");
    }
}
