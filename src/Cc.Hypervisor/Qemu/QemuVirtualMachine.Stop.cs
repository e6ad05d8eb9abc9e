using Cc.Hypervisor.Qmp;
using Microsoft.Extensions.Logging;

namespace Cc.Hypervisor.Qemu;

// Stop and dispose: one path each, bounded in time, safe to call from any number of callers.
public sealed partial class QemuVirtualMachine
{
    public Task StopAsync(TimeSpan grace, CancellationToken cancellationToken)
    {
        Task stop;
        lock (_gate)
        {
            // The first caller's grace period applies; later callers join the stop already under way.
            stop = _stop ??= Task.Run(() => StopCoreAsync(grace), CancellationToken.None);
        }
        return stop.WaitAsync(cancellationToken);
    }

    private async Task StopCoreAsync(TimeSpan grace)
    {
        if (Exited.IsCompleted)
        {
            return;
        }
        // Without a monitor there is nobody to ask: a VM that failed to start is killed at once.
        long start = _time.GetTimestamp();
        if (_qmp is { } qmp)
        {
            // One deadline for the quit request and the exit together: grace bounds the whole stop.
            using var quitTimeout = new CancellationTokenSource(grace, _time);
            try
            {
                await qmp.QuitAsync(quitTimeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or QmpErrorException)
            {
                QemuLog.QuitFailed(_logger, _name, ex.Message);
            }
            try
            {
                TimeSpan left = grace - _time.GetElapsedTime(start);
                await Exited.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, _time).ConfigureAwait(false);
                return;
            }
            catch (TimeoutException)
            {
                // Escalate below.
            }
        }
        lock (_gate)
        {
            _killedByUs = true;
        }
        QemuLog.Killing(_logger, _name, _process.Pid, grace);
        _process.Kill();
        await Exited.WaitAsync(KillTimeout, _time).ConfigureAwait(false);
    }

    /// <summary>
    /// Stops QEMU (quit, then SIGKILL after <see cref="DisposeGrace"/>), stops virtiofsd, and removes
    /// the sockets and the run directory. The console log survives only if it lives outside the run directory.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            _dispose ??= DisposeCoreAsync();
            return new ValueTask(_dispose);
        }
    }

    private async Task DisposeCoreAsync()
    {
        try
        {
            await StopAsync(DisposeGrace, CancellationToken.None).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Even SIGKILL did not end it within KillTimeout (a process stuck in the kernel); the
            // resources below are released anyway and the exit is reported when it happens.
        }
        if (_qmp is { } qmp)
        {
            await qmp.DisposeAsync().ConfigureAwait(false);
        }
        if (_virtiofsd is { } virtiofsd)
        {
            // virtiofsd exits by itself when QEMU's vhost-user connection closes; the kill covers a
            // virtiofsd that never got a connection.
            virtiofsd.Kill();
            await virtiofsd.Exited.WaitAsync(KillTimeout, _time).ConfigureAwait(false);
            virtiofsd.Dispose();
        }
        _process.Dispose();
        _console.Dispose();
        RemoveRunDirectory(_layout.Directory, _logger, _name);
    }

    internal static void RemoveRunDirectory(string directory, ILogger logger, string name)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            QemuLog.CleanupFailed(logger, name, directory, ex);
        }
    }
}
