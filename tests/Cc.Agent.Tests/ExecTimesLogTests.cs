using System.Text.RegularExpressions;
using Cc.Agent.Logging;
using Cc.Agent.Tests.Fixtures;
using Microsoft.Extensions.Logging;

namespace Cc.Agent.Tests;

// At debug the agent says where an exec's time went, measured in the guest (the console forwarder stamps lines on the
// host when it reads them, late and in batches): the runtime's own run inside the launch, and the whole ExecProcess.
// docs/performance.md ("Stdio and exec") attributes an exec's latency with these two lines.
public sealed partial class ExecTimesLogTests : IAsyncLifetime
{
    private readonly StringWriter _lines = new();
    private LineLoggerFactory _loggers = null!;
    private AgentOverTtrpc _agent = null!;

    public async Task InitializeAsync()
    {
        _loggers = new LineLoggerFactory(new LineLoggerProvider(TextWriter.Synchronized(_lines), LogLevel.Debug));
        _agent = await AgentOverTtrpc.StartAsync(_loggers);
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        _loggers.Dispose();
    }

    [Fact]
    public async Task An_exec_logs_the_runtime_s_share_of_its_launch_and_the_whole_ExecProcess_at_debug()
    {
        await _agent.RunAsync("timed", BusyboxBundle.Spec("sleep", "100"));

        await _agent.ExecAsync("timed", "x1", terminal: false, stdin: false, "true");
        (await _agent.WaitAsync("timed", "x1")).ExitStatus.ShouldBe(0u);

        var log = _lines.ToString();
        var launch = LaunchLine().Match(log);
        launch.Success.ShouldBeTrue(log);
        var runtimeMs = long.Parse(launch.Groups["runtime"].Value, System.Globalization.CultureInfo.InvariantCulture);
        var launchMs = long.Parse(launch.Groups["launch"].Value, System.Globalization.CultureInfo.InvariantCulture);
        runtimeMs.ShouldBeGreaterThan(0, "crun exec is a process of its own: it takes at least a millisecond");
        runtimeMs.ShouldBeLessThanOrEqualTo(launchMs);
        var total = ExecLine().Match(log);
        total.Success.ShouldBeTrue(log);
        long.Parse(total.Groups["total"].Value, System.Globalization.CultureInfo.InvariantCulture).ShouldBeGreaterThanOrEqualTo(launchMs);
        // The container's own start logs its launch too, under the name init.
        log.ShouldContain("container timed process init: the runtime ran ");
    }

    [GeneratedRegex(@"container timed process x1: the runtime ran (?<runtime>\d+) ms of the launch's (?<launch>\d+) ms")]
    private static partial Regex LaunchLine();

    [GeneratedRegex(@"container timed exec x1: ExecProcess answered (?<total>\d+) ms after it arrived")]
    private static partial Regex ExecLine();
}
