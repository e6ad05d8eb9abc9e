using System.Text;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Display;

namespace Cc.ShimHost;

/// <summary>
/// Writes log events as one logfmt-like line each to a stream (the bundle's log FIFO). Serialised by a lock: Serilog
/// sinks may be called concurrently.
/// </summary>
internal sealed class StreamSink(Stream stream) : ILogEventSink, IDisposable
{
    private const string Template =
        "time=\"{Timestamp:yyyy-MM-ddTHH:mm:ss.fffffffzzz}\" level={Level:l} msg=\"{Message:lj}\" id={id} namespace={namespace} runtime={runtime}{NewLine}{Exception}";

    private readonly MessageTemplateTextFormatter _formatter = new(Template);
    private readonly Lock _lock = new();

    public void Emit(LogEvent logEvent)
    {
        using var writer = new StringWriter();
        _formatter.Format(logEvent, writer);
        var bytes = Encoding.UTF8.GetBytes(writer.ToString());
        lock (_lock)
        {
            try
            {
                stream.Write(bytes);
            }
            catch (IOException)
            {
                // containerd went away with the FIFO's read end; logging must never take the daemon down.
            }
        }
    }

    public void Dispose() => stream.Dispose();
}
