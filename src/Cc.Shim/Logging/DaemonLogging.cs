using Cc.Shim.Cli;
using Serilog;
using Serilog.Events;
using Serilog.Extensions.Logging;

namespace Cc.Shim.Logging;

/// <summary>
/// The daemon's logging pipeline: Microsoft.Extensions.Logging in the code, Serilog underneath, one logrus-shaped line
/// per event into the bundle's log FIFO (containerd copies it into its own log). Every event carries the sandbox id,
/// namespace and runtime name; <see cref="LogFields"/> scopes add container, exec and source.
/// </summary>
public sealed class DaemonLogging : IDisposable
{
    private readonly Serilog.Core.Logger _serilog;

    private DaemonLogging(Serilog.Core.Logger serilog, bool debug)
    {
        _serilog = serilog;
        Debug = debug;
        Factory = new SerilogLoggerFactory(serilog);
    }

    /// <summary>The factory the daemon's code logs through.</summary>
    public Microsoft.Extensions.Logging.ILoggerFactory Factory { get; }

    /// <summary>True when Debug lines are written: containerd runs with <c>-debug</c>, or <c>runtime.debug = true</c>.</summary>
    public bool Debug { get; }

    /// <summary>
    /// The pipeline writing to <paramref name="sink"/> (null: nowhere, a daemon started by hand without a FIFO reader).
    /// </summary>
    public static DaemonLogging Create(Serilog.Core.ILogEventSink? sink, bool debug, string sandboxId, string @namespace)
    {
        var configuration = new LoggerConfiguration()
            .MinimumLevel.Is(debug ? LogEventLevel.Debug : LogEventLevel.Information)
            .Enrich.FromLogContext()
            .Enrich.WithProperty("runtime", ShimVersion.RuntimeName)
            .Enrich.WithProperty(LogFields.Sandbox, sandboxId)
            .Enrich.WithProperty("namespace", @namespace);
        if (sink is not null)
        {
            configuration = configuration.WriteTo.Sink(sink);
        }
        return new DaemonLogging(configuration.CreateLogger(), debug);
    }

    public void Dispose()
    {
        Factory.Dispose();
        _serilog.Dispose();
    }
}
