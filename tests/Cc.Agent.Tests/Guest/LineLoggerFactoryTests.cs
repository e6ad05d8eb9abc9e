using Cc.Agent.Logging;
using Microsoft.Extensions.Logging;

namespace Cc.Agent.Tests.Guest;

/// <summary>
/// The agent's own logger factory (no dependency-injection container): every category writes through the one line
/// provider, at its minimum level, one line per event.
/// </summary>
public sealed class LineLoggerFactoryTests
{
    [Fact]
    public void Every_category_writes_one_line_per_event_at_the_minimum_level_and_above()
    {
        var output = new StringWriter();
        using (var factory = new LineLoggerFactory(new LineLoggerProvider(output, LogLevel.Information)))
        {
            var guest = factory.CreateLogger("Cc.Agent.Guest");
            var host = factory.CreateLogger("Cc.Agent.Host");
            guest.LogDebug("hidden");
            guest.LogInformation("mounted");
            host.LogWarning("port gone");
            guest.IsEnabled(LogLevel.Debug).ShouldBeFalse();
        }

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Length.ShouldBe(2);
        lines[0].ShouldStartWith("cc-agent ");
        lines[0].ShouldEndWith(" info Cc.Agent.Guest: mounted");
        lines[1].ShouldEndWith(" warn Cc.Agent.Host: port gone");
    }

    [Fact]
    public void A_second_provider_is_refused()
    {
        using var factory = new LineLoggerFactory(new LineLoggerProvider(TextWriter.Null, LogLevel.Information));
        Should.Throw<NotSupportedException>(() => factory.AddProvider(new LineLoggerProvider(TextWriter.Null, LogLevel.Debug)));
    }
}
