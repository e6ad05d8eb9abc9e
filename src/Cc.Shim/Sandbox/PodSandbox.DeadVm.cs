using Cc.Shim.Events;
using Cc.Shim.Lifetime;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Sandbox;

public sealed partial class PodSandbox
{
    /// <summary>
    /// The exit status of every process of a VM that died: 128 + SIGKILL, as runc reports a container whose processes
    /// were all killed at once, and as <c>shim delete</c> reports the tasks of a crashed daemon (docs/shim.md).
    /// </summary>
    public const uint DeadVmExitStatus = 137;

    /// <summary>
    /// Runs for the life of one VM. When it dies (<see cref="SandboxVm.Ended"/> with a reason): every started process of
    /// the pod is recorded as exited with <see cref="DeadVmExitStatus"/> and TaskExit published (execs before their
    /// init, under the lock, so the order is the state order), processes never started become Stopped without an event,
    /// their host stdio is closed, their rootfs and bind mounts are released, and the VM is stopped (agent session,
    /// VMM run directory, taps and pid file). The containers stay registered until Delete, which then only forgets them.
    /// </summary>
    private async Task EndTasksOfDeadVmAsync(SandboxVm vm, CleanupRegistration release)
    {
        var reason = await vm.Ended.ConfigureAwait(false);
        if (reason is null)
        {
            return;
        }
        var now = _time.GetUtcNow();
        List<ShimContainer> containers;
        lock (_lock)
        {
            containers = [.. _containers.Values];
            foreach (var container in containers)
            {
                foreach (var exec in container.Execs.Values)
                {
                    EndWithVm(exec, now);
                }
                EndWithVm(container.Init, now);
            }
        }
        Log.VmDied(_logger, _options.SandboxId, reason, containers.Count);
        foreach (var container in containers)
        {
            foreach (var process in container.Execs.Values.Append(container.Init))
            {
                await CloseStdioAsync(process).ConfigureAwait(false);
            }
            if (container.RootfsRelease is { } rootfs)
            {
                await rootfs.DisposeAsync().ConfigureAwait(false);
            }
        }
        // The VM's registered release (bounded, logged, once): it leaves the stack, so the daemon's exit does not stop
        // this VM again; the next Create or the last Delete awaits the same, finished run.
        await release.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Call under <see cref="_lock"/>. A started process gets its TaskExit; a created one never had a TaskStart.</summary>
    private void EndWithVm(ShimProcess process, DateTimeOffset now)
    {
        switch (process.State)
        {
            case ProcessState.Running or ProcessState.Paused:
                var exit = new ExitStatus(DeadVmExitStatus, now);
                process.RecordExit(exit);
                _events.Publish(new TaskExited(now, process.Key, process.Pid, exit));
                break;
            case ProcessState.Created:
                process.RecordExit(new ExitStatus(DeadVmExitStatus, now));
                break;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 112, Level = LogLevel.Error,
            Message = "Sandbox {SandboxId}: the VM died ({Reason}); every process of its {Containers} containers ends with status 137")]
        public static partial void VmDied(ILogger logger, string sandboxId, string reason, int containers);
    }
}
