using System.Diagnostics;
using System.Security.Cryptography;
using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Containerd.Contract;

/// <summary>
/// The shim's log as containerd keeps it (docs/troubleshooting.md, "Reading the logs"): lines with the sandbox,
/// container and exec ids as fields; the guest's console and the agent's own lines forwarded with their sources; and a
/// pod that does not start gets one line naming cause and fix, the same text ctr shows.
/// </summary>
public sealed partial class CcShimTests
{
    private const string ShimLineSuffix = $"namespace={PrivateContainerd.Namespace} runtime=io.containerd.cc.v2";

    [Theory]
    [InlineData("1.7")]
    public async Task Containerds_log_has_the_shims_lines_with_ids_and_the_guests_console_and_agent_lines_with_their_sources(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var id = s.NewId("logs");
        var marker = $"cc-it-console-{Guid.NewGuid():N}"[..30];

        // A line the guest kernel prints on its console: written to /dev/kmsg at level 2, which the console shows
        // even with `quiet`.
        await s.RunDetachedWithAsync(["--device", "/dev/kmsg"], id, "sh", "-c", $"echo '<2>{marker}' > /dev/kmsg; exec sleep 1000");
        s.ShouldSucceed(await s.CtrAsync("task", "exec", "--exec-id", "e1", id, "true"));

        var console = await WaitForLogLineAsync(s, l => l.Contains(marker, StringComparison.Ordinal) && l.Contains("source=guest-console", StringComparison.Ordinal));
        console.ShouldEndWith($" source=guest-console sandbox={id} {ShimLineSuffix}");
        var agent = await WaitForLogLineAsync(s, l => l.Contains("source=agent", StringComparison.Ordinal) && l.Contains($"container {id} created", StringComparison.Ordinal));
        agent.ShouldContain(" level=info msg=");
        agent.ShouldEndWith($" source=agent sandbox={id} {ShimLineSuffix}");
        // The shim's own line about the exec (its exit watch) carries the container and the exec.
        var exec = await WaitForLogLineAsync(s, l => l.Contains("exit watch armed", StringComparison.Ordinal) && l.Contains("exec=e1", StringComparison.Ordinal));
        exec.ShouldEndWith($" sandbox={id} container={id} exec=e1 {ShimLineSuffix}");
        ShimLines(s).ShouldAllBe(l => l.Contains($" sandbox={id} ", StringComparison.Ordinal), "every line of this pod's shim names its sandbox");
        // containerd logs at info here, so neither the shim nor its agent logs debug (DebugLogTests: the debug side).
        ShimLines(s).ShouldNotContain(l => l.Contains(" level=debug ", StringComparison.Ordinal), "no debug line at containerd's info level");

        await s.KillRemoveAndLeaveNothingAsync(id);
    }

    [Theory]
    [InlineData("1.7")]
    public async Task A_kernel_file_that_is_not_a_kernel_fails_the_start_with_one_line_naming_cause_and_fix_and_ctr_shows_it(string containerd)
    {
        // Random bytes: neither a bzImage header nor an ELF with a PVH note, so QEMU refuses to load it.
        var notAKernel = Path.Combine(Path.GetTempPath(), $"cc-it-not-a-kernel-{Guid.NewGuid():N}");
        await File.WriteAllBytesAsync(notAKernel, RandomNumberGenerator.GetBytes(64 * 1024));
        try
        {
            using var configuration = TestConfiguration.Edited(line =>
                line.StartsWith("kernel = ", StringComparison.Ordinal) ? $"kernel = \"{notAKernel}\"" : line);
            await using var s = await BeginAsync(containerd, RuntimeUnderTest.Cc.WithConfiguration(configuration.Path));
            var id = s.NewId("notkernel");

            var run = await s.CtrAsync(["run", "-d", .. s.Runtime.RunOptions, s.Image, id, "true"]);

            run.ExitCode.ShouldNotBe(0, s.Because(run));
            const string Entry = "see docs/troubleshooting.md, \"VM start: QEMU cannot load the guest kernel\"";
            var said = $"sandbox {id}: the VM did not start: QEMU exited with code 1 before its monitor answered: ";
            run.Stderr.ShouldContain(said, customMessage: s.Because(run));
            run.Stderr.ShouldContain("Fix: hypervisor.kernel must name the guest kernel", customMessage: s.Because(run));
            run.Stderr.ShouldContain(Entry, customMessage: s.Because(run));
            var failures = ShimLines(s).Where(l => l.Contains("the VM did not start", StringComparison.Ordinal)).ToList();
            var line = failures.ShouldHaveSingleItem(s.Because(run));
            line.ShouldContain($" level=error msg=\"{said}");
            line.ShouldContain(Entry.Replace("\"", "\\\"", StringComparison.Ordinal));
            line.ShouldContain($" sandbox={id} container={id} ");
            await ShouldRemoveAndLeaveNothingAsync(s, id);
        }
        finally
        {
            File.Delete(notAKernel);
        }
    }

    /// <summary>The lines of the shims in containerd's log since the test began.</summary>
    private static IReadOnlyList<string> ShimLines(ContainerdSession s) =>
        s.LogSinceStart(5000).Split('\n').Where(l => l.EndsWith(ShimLineSuffix, StringComparison.Ordinal)).ToList();

    /// <summary>
    /// The first shim line matching <paramref name="match"/>: the guest's lines arrive a poll interval (200 ms) after
    /// the guest wrote them, so the log is read again until one matches, for at most 30 s.
    /// </summary>
    private static async Task<string> WaitForLogLineAsync(ContainerdSession s, Func<string, bool> match)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (ShimLines(s).FirstOrDefault(match) is { } line)
            {
                return line;
            }
            clock.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(30), $"no matching line in containerd's log:\n{s.LogSinceStart(60)}");
            await Task.Delay(100);
        }
    }
}
