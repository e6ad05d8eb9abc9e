using Cc.Shim.Logging;
using Serilog.Core;
using Serilog.Events;

namespace Cc.Shim.Tests.Logging;

/// <summary>
/// The daemon's real logging pipeline (<see cref="DaemonLogging"/>, <see cref="StreamSink"/>, <see cref="LogfmtFormatter"/>)
/// writing into memory instead of the bundle's FIFO: the lines exactly as containerd would copy them.
/// </summary>
internal sealed class CapturedLog : IDisposable
{
    private readonly MemoryStream _stream = new();
    private readonly DaemonLogging _logging;

    public CapturedLog(bool debug = false, string sandbox = "sb-1", string @namespace = "k8s.io")
    {
        _logging = DaemonLogging.Create(new StreamSink(new Unclosable(_stream)), debug, sandbox, @namespace);
    }

    public Microsoft.Extensions.Logging.ILoggerFactory Factory => _logging.Factory;

    public Microsoft.Extensions.Logging.ILogger Logger(string category = "Test") => _logging.Factory.CreateLogger(category);

    /// <summary>Every line written so far, without its newline.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_stream)
            {
                return System.Text.Encoding.UTF8.GetString(_stream.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            }
        }
    }

    public void Dispose() => _logging.Dispose();

    /// <summary>Keeps the memory readable after the sink disposes its stream.</summary>
    private sealed class Unclosable(MemoryStream inner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            lock (inner)
            {
                inner.Write(buffer, offset, count);
            }
        }
    }
}
