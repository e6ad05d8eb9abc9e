using Microsoft.Extensions.Logging;

namespace Cc.Agent.Logging;

// The agent's whole logging stack: one line per event on a TextWriter (/dev/console in the guest,
// which QEMU writes to the console log on the host). No Serilog in the guest: this is all it needs.
public sealed class LineLoggerProvider(TextWriter output, LogLevel minimum) : ILoggerProvider
{
    private readonly object _lock = new();
    private readonly LogLevel _minimum = minimum;

    public static LogLevel ParseLevel(string? text) => text?.ToLowerInvariant() switch
    {
        "trace" => LogLevel.Trace,
        "debug" => LogLevel.Debug,
        "warn" or "warning" => LogLevel.Warning,
        "error" => LogLevel.Error,
        _ => LogLevel.Information,
    };

    public ILogger CreateLogger(string categoryName) => new LineLogger(this, categoryName);

    public void Dispose()
    {
        lock (_lock)
        {
            output.Flush();
        }
    }

    private void Write(LogLevel level, string category, string message, Exception? exception)
    {
        var line = $"cc-agent {DateTime.UtcNow:HH:mm:ss.fff} {Short(level)} {category}: {message}";
        if (exception is not null)
        {
            line += $" | {exception.GetType().Name}: {exception.Message}";
        }

        lock (_lock)
        {
            // Serialized and flushed per line: lines from concurrent requests never interleave, and
            // nothing is lost if the guest dies right after.
            output.Write(line + "\n");
            output.Flush();
        }
    }

    private static string Short(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        _ => "crit",
    };

    private sealed class LineLogger(LineLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= provider._minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                provider.Write(logLevel, category, formatter(state, exception), exception);
            }
        }
    }
}
