using Serilog.Context;

namespace Cc.Shim.Logging;

/// <summary>
/// The structured fields every shim log line may carry besides its message, as containerd's log shows them
/// (<c>sandbox=… container=… exec=… source=…</c>). They travel as Serilog <see cref="LogContext"/> properties (an
/// async-local stack, enriched into every event by <see cref="DaemonLogging"/>), never inside message text: a scope
/// begun for a request covers every line logged while serving it, in whatever class that line is written. (Not
/// <c>ILogger.BeginScope</c>: reaching Serilog's scope support brings its reflection-based destructuring into the
/// NativeAOT image, which the trim analysis refuses.)
/// </summary>
public static class LogFields
{
    /// <summary>The pod's sandbox id (the daemon's <c>-id</c>): on every line, set once by Program.cs.</summary>
    public const string Sandbox = "sandbox";

    /// <summary>The container (task) id a line concerns.</summary>
    public const string Container = "container";

    /// <summary>The exec id a line concerns, when it concerns an exec rather than a container's init process.</summary>
    public const string Exec = "exec";

    /// <summary>Where a line comes from when the shim did not write it: <see cref="GuestConsoleSource"/> or <see cref="AgentSource"/>.</summary>
    public const string Source = "source";

    public const string GuestConsoleSource = "guest-console";
    public const string AgentSource = "agent";

    /// <summary>
    /// A scope naming the task (and exec) a request concerns: until disposed, every event logged in this async flow
    /// carries the fields. An empty <paramref name="execId"/> (the init process) adds no <c>exec</c> field.
    /// </summary>
    public static IDisposable BeginTask(string containerId, string execId = "")
    {
        var container = LogContext.PushProperty(Container, containerId);
        return execId.Length == 0 ? container : new Both(LogContext.PushProperty(Exec, execId), container);
    }

    /// <summary>A scope naming where the lines logged in it come from (guest console, agent).</summary>
    public static IDisposable BeginSource(string source) => LogContext.PushProperty(Source, source);

    /// <summary>Pops two pushed properties, the inner one first (LogContext is a stack).</summary>
    private sealed class Both(IDisposable inner, IDisposable outer) : IDisposable
    {
        public void Dispose()
        {
            inner.Dispose();
            outer.Dispose();
        }
    }
}
