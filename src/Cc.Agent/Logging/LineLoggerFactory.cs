using Microsoft.Extensions.Logging;

namespace Cc.Agent.Logging;

// The agent's logger factory: every category logs through the one LineLoggerProvider. LoggerFactory.Create builds a
// service collection and provider, options and filter rules for this, which under TCG cost a measurable part of the
// guest's boot before the first mount (docs/performance.md, "Where a cold start goes"); the agent has one sink and one
// minimum level, which LineLoggerProvider applies itself, so it needs none of that.
public sealed class LineLoggerFactory(LineLoggerProvider provider) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName) => provider.CreateLogger(categoryName);

    // The sink is fixed at start; a second provider would be a programming error, not a configuration.
    public void AddProvider(ILoggerProvider provider) =>
        throw new NotSupportedException("the agent logs through its one LineLoggerProvider");

    public void Dispose() => provider.Dispose();
}
