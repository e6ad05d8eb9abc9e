using System.Text;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;

namespace Cc.Shim.Logging;

/// <summary>
/// Writes each log event as one line (<see cref="LogfmtFormatter"/>) to a stream: the bundle's log FIFO. Serialised by
/// a lock: Serilog sinks may be called concurrently, and a line must reach the FIFO in one write.
/// </summary>
public sealed class StreamSink(Stream stream, ITextFormatter? formatter = null) : ILogEventSink, IDisposable
{
    private readonly ITextFormatter _formatter = formatter ?? new LogfmtFormatter();
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
