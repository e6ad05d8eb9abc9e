using Microsoft.Extensions.Logging;

namespace Cc.Shim.Logging;

/// <summary>
/// One line of the guest's console (<c>console.log</c>), classified: the agent's own lines (its
/// <c>LineLoggerProvider</c> writes <c>cc-agent HH:mm:ss.fff lvl Category: message</c> on /dev/console) keep the
/// agent's level and get <c>source=agent</c>; everything else the guest printed (kernel, init) is
/// <c>source=guest-console</c> at Information. Lines the shim itself appended (QEMU's stderr, prefixed <c>qemu: </c>)
/// are already in the shim's log and are not forwarded again.
/// </summary>
public readonly record struct GuestLine(string Source, LogLevel Level, string Text)
{
    private const string AgentPrefix = "cc-agent ";
    private const string QemuPrefix = "qemu: ";

    /// <summary>The line as it will be logged, or null when it is not forwarded (blank, or the shim's own).</summary>
    public static GuestLine? Parse(string line)
    {
        line = line.TrimEnd('\r', '\n');
        if (line.Length == 0 || line.StartsWith(QemuPrefix, StringComparison.Ordinal))
        {
            return null;
        }
        if (line.StartsWith(AgentPrefix, StringComparison.Ordinal))
        {
            // "cc-agent 01:02:03.456 info Category: message": time, level, then the text.
            var fields = line.Split(' ', 4);
            if (fields.Length == 4 && AgentLevel(fields[2]) is { } level)
            {
                return new GuestLine(LogFields.AgentSource, level, fields[3]);
            }
        }
        return new GuestLine(LogFields.GuestConsoleSource, LogLevel.Information, line);
    }

    /// <summary>The agent's short level names (LineLoggerProvider.Short).</summary>
    private static LogLevel? AgentLevel(string name) => name switch
    {
        "trce" => LogLevel.Trace,
        "dbug" => LogLevel.Debug,
        "info" => LogLevel.Information,
        "warn" => LogLevel.Warning,
        "fail" => LogLevel.Error,
        "crit" => LogLevel.Critical,
        _ => null,
    };
}
