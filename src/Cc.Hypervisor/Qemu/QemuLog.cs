using Microsoft.Extensions.Logging;

namespace Cc.Hypervisor.Qemu;

/// <summary>Source-generated log messages of the QEMU driver. Event ids 30xx, and 820 (the agent port's open).</summary>
internal static partial class QemuLog
{
    [LoggerMessage(3000, LogLevel.Information, "VM {Vm}: started QEMU pid {Pid}")]
    public static partial void Started(ILogger logger, string vm, int pid);

    [LoggerMessage(3001, LogLevel.Debug, "VM {Vm}: {Program} {Arguments}")]
    public static partial void CommandLine(ILogger logger, string vm, string program, string arguments);

    [LoggerMessage(3002, LogLevel.Information, "VM {Vm}: QEMU stderr: {Line}")]
    public static partial void Stderr(ILogger logger, string vm, string line);

    [LoggerMessage(3003, LogLevel.Information, "VM {Vm}: QEMU pid {Pid} exited with code {ExitCode}: {Reason}")]
    public static partial void Exited(ILogger logger, string vm, int pid, int exitCode, string reason);

    [LoggerMessage(3004, LogLevel.Warning, "VM {Vm}: killing QEMU pid {Pid}: no monitor to ask, or still running {Grace} after quit")]
    public static partial void Killing(ILogger logger, string vm, int pid, TimeSpan grace);

    [LoggerMessage(3005, LogLevel.Information, "VM {Vm}: quit over QMP failed ({Reason}); relying on the grace period")]
    public static partial void QuitFailed(ILogger logger, string vm, string reason);

    [LoggerMessage(3006, LogLevel.Warning, "VM {Vm}: could not remove {Path}")]
    public static partial void CleanupFailed(ILogger logger, string vm, string path, Exception exception);

    [LoggerMessage(3007, LogLevel.Information, "VM {Vm}: started virtiofsd pid {Pid} for {Directory}")]
    public static partial void VirtiofsdStarted(ILogger logger, string vm, int pid, string directory);

    [LoggerMessage(3008, LogLevel.Information, "VM {Vm}: virtiofsd stderr: {Line}")]
    public static partial void VirtiofsdStderr(ILogger logger, string vm, string line);

    [LoggerMessage(820, LogLevel.Debug, "VM {Vm}: the guest opened its agent port (VSERPORT_CHANGE)")]
    public static partial void AgentPortOpened(ILogger logger, string vm);
}
