using Microsoft.Extensions.Logging;

namespace Cc.Agent.Logging;

// Every log line of the agent library, with stable event ids (1xx containers, 2xx guest set-up,
// 3xx serving).
internal static partial class AgentLog
{
    [LoggerMessage(101, LogLevel.Information, "container {ContainerId} created, init pid {Pid}")]
    public static partial void ContainerCreated(ILogger logger, string containerId, int pid);

    [LoggerMessage(102, LogLevel.Information, "container {ContainerId} started")]
    public static partial void ContainerStarted(ILogger logger, string containerId);

    [LoggerMessage(103, LogLevel.Information, "container {ContainerId} exec {ExecId} started, pid {Pid}")]
    public static partial void ExecStarted(ILogger logger, string containerId, string execId, int pid);

    [LoggerMessage(104, LogLevel.Information, "container {ContainerId} process {ExecId} pid {Pid} exited with status {Status}")]
    public static partial void ProcessExited(ILogger logger, string containerId, string execId, int pid, int status);

    [LoggerMessage(105, LogLevel.Information, "container {ContainerId} removed")]
    public static partial void ContainerRemoved(ILogger logger, string containerId);

    [LoggerMessage(106, LogLevel.Warning, "container {ContainerId}: {Message}")]
    public static partial void ContainerWarning(ILogger logger, string containerId, string message);

    // StartContainer ran `crun start` instead of releasing the init through the exec FIFO (ContainerManager.Start.cs).
    [LoggerMessage(4010, LogLevel.Information, "container {ContainerId} started through crun start: {Reason}")]
    public static partial void StartThroughRuntime(ILogger logger, string containerId, string reason);

    // Debug: what the agent asks of the OCI runtime, shown when the shim runs with debug (containerd's -debug or
    // runtime.debug), which raises the agent's level (docs/troubleshooting.md, "Reading the logs").
    [LoggerMessage(107, LogLevel.Debug, "container {ContainerId} process {Process}: runtime {Arguments}")]
    public static partial void RuntimeLaunch(ILogger logger, string containerId, string process, string arguments);

    [LoggerMessage(108, LogLevel.Information, "container {ContainerId} exec {ExecId} deleted")]
    public static partial void ExecDeleted(ILogger logger, string containerId, string execId);

    // Debug: where one launch's time went, measured in the guest, so that it does not depend on when the console
    // forwarder stamps the line on the host (docs/performance.md, "Stdio and exec": the exec's time is the runtime's).
    [LoggerMessage(4040, LogLevel.Debug, "container {ContainerId} process {Process}: the runtime ran {RuntimeMs} ms of the launch's {LaunchMs} ms")]
    public static partial void LaunchTimes(ILogger logger, string containerId, string process, long runtimeMs, long launchMs);

    [LoggerMessage(4041, LogLevel.Debug, "container {ContainerId} exec {ExecId}: ExecProcess answered {TotalMs} ms after it arrived")]
    public static partial void ExecTimes(ILogger logger, string containerId, string execId, long totalMs);

    [LoggerMessage(201, LogLevel.Information, "guest: {Step}")]
    public static partial void GuestStep(ILogger logger, string step);

    [LoggerMessage(202, LogLevel.Warning, "guest: {Step} failed: {Reason}")]
    public static partial void GuestStepFailed(ILogger logger, string step, string reason);

    // Port forwards (PortForwards): per connection, so Debug.
    [LoggerMessage(910, LogLevel.Debug, "port forward {StreamId}: connected to {Port} at {Endpoint}")]
    public static partial void PortForwardOpened(ILogger logger, ulong streamId, int port, string endpoint);

    [LoggerMessage(911, LogLevel.Debug, "port forward {StreamId}: closed")]
    public static partial void PortForwardClosed(ILogger logger, ulong streamId);

    [LoggerMessage(912, LogLevel.Information, "sandbox destroyed: {Count} port forwards closed")]
    public static partial void PortForwardsClosed(ILogger logger, int count);

    [LoggerMessage(301, LogLevel.Warning, "request {Method} failed: {Code} {Message}")]
    public static partial void RequestFailed(ILogger logger, string method, string code, string message);

    [LoggerMessage(302, LogLevel.Error, "request {Method} failed unexpectedly")]
    public static partial void RequestCrashed(ILogger logger, string method, Exception exception);
}
