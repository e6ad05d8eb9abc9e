using System.Diagnostics;
using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Containerd.Contract;

/// <summary>
/// Debug from containerd's own level (docs/troubleshooting.md, "Reading the logs"): a containerd whose log level is
/// debug starts its shims with <c>-debug</c>, so the shim logs its debug lines and raises the guest agent to debug,
/// whose lines reach containerd's log through the guest console. The same configuration under the suite's info-level
/// containerd logs no debug line (CcShimTests.Logs).
/// </summary>
[Collection(ContainerdCollection.Name)]
[Trait("Category", "Shim")]
public sealed class DebugLogTests(ContainerdFixture fixture)
{
    private static readonly TimeSpan s_budget = TimeSpan.FromMinutes(6);
    private static readonly TimeSpan s_import = TimeSpan.FromMinutes(2);
    private const string ShimLineSuffix = $"namespace={PrivateContainerd.Namespace} runtime=io.containerd.cc.v2";

    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task A_containerd_at_debug_level_makes_the_shim_and_the_guest_agent_log_debug_lines(string version)
    {
        RuntimeUnderTest.Cc.MissingPrerequisite().ShouldBeNull();
        using var start = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await using var containerd = await PrivateContainerd.StartAsync(version, ["--log-level", "debug"], start.Token);
        var images = fixture.Images;
        var import = await containerd.CtrAsync(s_import, start.Token, ["images", "import", "--base-name", images.BusyboxBase, images.BusyboxTar]);
        import.ExitCode.ShouldBe(0, import.Describe());
        await using var s = new ContainerdSession(containerd, RuntimeUnderTest.Cc, images.BusyboxImage, s_budget, _ => { });
        var id = s.NewId("debug");

        await s.RunDetachedAsync(id, "sleep", "1000");

        // The shim's own: each event it forwards to containerd (EventQueue, Debug).
        var shim = await WaitForShimLineAsync(s, l => l.Contains(" level=debug ", StringComparison.Ordinal)
            && l.Contains("Event /tasks/start forwarded", StringComparison.Ordinal) && !l.Contains(" source=", StringComparison.Ordinal));
        shim.ShouldContain($" sandbox={id} ");
        // The agent's, from inside the guest: what it asks of crun for the container's init process (AgentLog, Debug).
        var agent = await WaitForShimLineAsync(s, l => l.Contains(" source=agent ", StringComparison.Ordinal)
            && l.Contains($"container {id} process init: runtime create --bundle ", StringComparison.Ordinal));
        agent.ShouldContain(" level=debug ");
        agent.ShouldEndWith($" source=agent sandbox={id} {ShimLineSuffix}");

        await s.KillRemoveAndLeaveNothingAsync(id);
    }

    /// <summary>
    /// Debug from the configuration the task is started with (docs/configuration.md): under a containerd at info level
    /// (no <c>-debug</c> for its shims), a task whose ConfigPath says <c>[runtime] debug = true</c> gets a shim logging
    /// Debug (start spawns its daemon with <c>-debug</c>), and a task of the same containerd without the key gets none.
    /// </summary>
    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task Runtime_debug_in_the_tasks_configuration_makes_its_shim_log_debug_lines_under_a_containerd_at_info_level(string version)
    {
        RuntimeUnderTest.Cc.MissingPrerequisite().ShouldBeNull();
        using var start = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await using var containerd = await PrivateContainerd.StartAsync(version, start.Token);
        var images = fixture.Images;
        var import = await containerd.CtrAsync(s_import, start.Token, ["images", "import", "--base-name", images.BusyboxBase, images.BusyboxTar]);
        import.ExitCode.ShouldBe(0, import.Describe());
        using var debugConfiguration = TestConfiguration.WithLines(new Dictionary<string, string[]> { ["runtime"] = ["debug = true"] });

        // One task after the other: each session's leak check would count the other's QEMU as its own leftover.
        await using (var plain = new ContainerdSession(containerd, RuntimeUnderTest.Cc, images.BusyboxImage, s_budget, _ => { }))
        {
            var plainId = plain.NewId("cfgplain");
            await plain.RunDetachedAsync(plainId, "sleep", "1000");
            // Its shim has exited once the task is removed, so every line it wrote is in containerd's log.
            await plain.KillRemoveAndLeaveNothingAsync(plainId);
            var plainLines = plain.LogSinceStart(20000).Split('\n')
                .Where(l => l.EndsWith(ShimLineSuffix, StringComparison.Ordinal) && l.Contains($" sandbox={plainId} ", StringComparison.Ordinal)).ToList();
            plainLines.ShouldNotBeEmpty("the plain task's shim logs at info");
            plainLines.ShouldNotContain(l => l.Contains(" level=debug ", StringComparison.Ordinal), "no debug line without runtime.debug");
        }

        await using var debug = new ContainerdSession(containerd, RuntimeUnderTest.Cc.WithConfiguration(debugConfiguration.Path),
            images.BusyboxImage, s_budget, _ => { });
        var debugId = debug.NewId("cfgdebug");
        await debug.RunDetachedAsync(debugId, "sleep", "1000");

        var shim = await WaitForShimLineAsync(debug, l => l.Contains(" level=debug ", StringComparison.Ordinal)
            && l.Contains("Event /tasks/start forwarded", StringComparison.Ordinal) && l.Contains($" sandbox={debugId} ", StringComparison.Ordinal));
        shim.ShouldNotContain(" source=");
        // The agent follows the shim's level here too (GuestVmConfig.AgentLogLevel).
        await WaitForShimLineAsync(debug, l => l.Contains(" source=agent ", StringComparison.Ordinal) && l.Contains(" level=debug ", StringComparison.Ordinal)
            && l.Contains($" sandbox={debugId} ", StringComparison.Ordinal));
        await debug.KillRemoveAndLeaveNothingAsync(debugId);
    }

    /// <summary>
    /// The first line of this test's shim matching <paramref name="match"/>; the agent's lines reach containerd's log a
    /// console poll after the guest printed them, so the log is read again until one matches, for at most 30 s.
    /// </summary>
    private static async Task<string> WaitForShimLineAsync(ContainerdSession s, Func<string, bool> match)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var lines = s.LogSinceStart(20000).Split('\n').Where(l => l.EndsWith(ShimLineSuffix, StringComparison.Ordinal));
            if (lines.FirstOrDefault(match) is { } line)
            {
                return line;
            }
            clock.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(30), $"no matching line in containerd's log:\n{s.LogSinceStart(80)}");
            await Task.Delay(100, s.CancellationToken);
        }
    }
}
