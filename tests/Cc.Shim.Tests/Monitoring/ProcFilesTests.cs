using Cc.Shim.Monitoring;

namespace Cc.Shim.Tests.Monitoring;

/// <summary>The two /proc files behind the VMM's CPU and memory metrics, parsed from proc(5)'s formats and read live.</summary>
public sealed class ProcFilesTests
{
    [Fact]
    public void Stat_fields_are_counted_from_the_last_parenthesis_so_a_command_with_spaces_and_parens_parses()
    {
        // utime 250 and stime 50 ticks (fields 14 and 15), USER_HZ 100.
        const string stat = "4242 (qemu (x) y) S 1 4242 4242 0 -1 4194560 123 0 0 0 250 50 0 0 20 0 5 0 100 200 300";

        ProcFiles.TryParseStat(stat, out var cpu).ShouldBeTrue();

        cpu.User.ShouldBe(TimeSpan.FromSeconds(2.5));
        cpu.System.ShouldBe(TimeSpan.FromSeconds(0.5));
    }

    [Theory]
    [InlineData("")]
    [InlineData("4242 qemu S 1")]
    [InlineData("4242 (qemu) S 1 2 3")]
    public void A_truncated_stat_line_does_not_parse(string stat) => ProcFiles.TryParseStat(stat, out _).ShouldBeFalse();

    [Fact]
    public void Smaps_rollup_gives_rss_and_pss_in_bytes()
    {
        const string rollup = """
            55d0c0a00000-7ffd1e5f6000 ---p 00000000 00:00 0                          [rollup]
            Rss:              291500 kB
            Pss:              127504 kB
            Pss_Anon:          90000 kB
            Shared_Clean:       1000 kB
            """;

        ProcFiles.TryParseSmapsRollup(rollup, out var memory).ShouldBeTrue();

        memory.ShouldBe(new ProcessMemory(291500L * 1024, 127504L * 1024));
    }

    [Fact]
    public void This_process_has_cpu_time_and_memory_and_a_gone_pid_has_none()
    {
        ProcFiles.ReadCpu(Environment.ProcessId).ShouldNotBeNull();
        ProcFiles.ReadMemory(0)!.Value.Pss.ShouldBeGreaterThan(0);
        ProcFiles.ReadCpu(int.MaxValue).ShouldBeNull();
        ProcFiles.ReadMemory(int.MaxValue).ShouldBeNull();
    }
}
