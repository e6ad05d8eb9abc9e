using System.Globalization;
using System.Text;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Display;

namespace Cc.Shim.Logging;

/// <summary>
/// One log event as one logrus text line, the shape runc's shim writes and containerd copies from the shim's log FIFO
/// into its own log verbatim: <c>time="…" level=info msg="…" source=… sandbox=… container=… exec=… namespace=…
/// runtime=…</c>. Only the fields of <see cref="FieldOrder"/> are written, in that order, and only when the event has
/// them; an exception becomes one more field, <c>error="…"</c>. A value is quoted (Go <c>%q</c> style: backslash, quote
/// and control characters escaped) when it holds anything but letters, digits and <c>-._/@^+</c>, as logrus does, so
/// every event stays on one line whatever its message holds.
/// </summary>
public sealed class LogfmtFormatter : ITextFormatter
{
    /// <summary>The structured fields written after <c>msg</c>, in this order.</summary>
    public static readonly IReadOnlyList<string> FieldOrder =
        [LogFields.Source, LogFields.Sandbox, LogFields.Container, LogFields.Exec, "namespace", "runtime"];

    public void Format(LogEvent logEvent, TextWriter output)
    {
        var line = new StringBuilder(256);
        line.Append("time=\"").Append(logEvent.Timestamp.ToString("yyyy-MM-ddTHH:mm:ss.fffffffzzz", CultureInfo.InvariantCulture))
            .Append("\" level=").Append(LevelName(logEvent.Level))
            .Append(" msg=");
        AppendValue(line, Message(logEvent));
        foreach (var name in FieldOrder)
        {
            if (logEvent.Properties.TryGetValue(name, out var property) && Text(property) is { Length: > 0 } text)
            {
                line.Append(' ').Append(name).Append('=');
                AppendValue(line, text);
            }
        }
        if (logEvent.Exception is { } exception)
        {
            line.Append(" error=");
            AppendValue(line, exception.ToString());
        }
        output.Write(line.Append('\n').ToString());
    }

    // ":l" renders string arguments literally (RenderMessage would put them in quotes, which logfmt quoting doubles);
    // ":j" renders structured ones as JSON.
    private static readonly MessageTemplateTextFormatter s_message = new("{Message:lj}", CultureInfo.InvariantCulture);

    private static string Message(LogEvent logEvent)
    {
        using var text = new StringWriter(CultureInfo.InvariantCulture);
        s_message.Format(logEvent, text);
        return text.ToString();
    }

    /// <summary>logrus's level names (containerd prints its own lines with the same).</summary>
    public static string LevelName(LogEventLevel level) => level switch
    {
        LogEventLevel.Verbose => "trace",
        LogEventLevel.Debug => "debug",
        LogEventLevel.Information => "info",
        LogEventLevel.Warning => "warning",
        LogEventLevel.Error => "error",
        _ => "fatal",
    };

    private static string Text(LogEventPropertyValue value) =>
        value is ScalarValue { Value: var scalar } ? Convert.ToString(scalar, CultureInfo.InvariantCulture) ?? "" : value.ToString();

    /// <summary>Appends <paramref name="value"/> bare when logrus would, quoted and escaped otherwise.</summary>
    public static void AppendValue(StringBuilder line, string value)
    {
        if (value.Length > 0 && value.All(IsBare))
        {
            line.Append(value);
            return;
        }
        line.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': line.Append("\\\""); break;
                case '\\': line.Append("\\\\"); break;
                case '\n': line.Append("\\n"); break;
                case '\r': line.Append("\\r"); break;
                case '\t': line.Append("\\t"); break;
                case < ' ' or '\x7f': line.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture)); break;
                default: line.Append(c); break;
            }
        }
        line.Append('"');
    }

    private static bool IsBare(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '/' or '@' or '^' or '+';
}
