using Cc.Agent.Guest;
using Cc.Agent.Logging;
using Cc.Agent.Runtime;

namespace Cc.Agent.Containers;

// StartContainer: the agent releases the created init itself through crun's exec FIFO (ExecFifo), which is all
// `crun start` does for the containers the agent makes (their configs have no hooks: OciSpec drops them), and runs
// `crun start` only when that would do more (sd_notify) or when the FIFO is not where the agent expects it.
public sealed partial class ContainerManager
{
    // crun's state root for the agent's options; <root>/<id>/exec.fifo is each created container's FIFO.
    private readonly string _crunStateRoot;
    // NOTIFY_SOCKET in the runtime's environment: `crun start` relays sd_notify, so every start goes through it.
    private readonly bool _startThroughRuntime;
    // 1 once a start fell back to `crun start` for an agent-wide reason (logged the first time only).
    private int _runtimeStartLogged;

    public async Task<int> StartAsync(string id, CancellationToken cancellationToken)
    {
        var container = Get(id);
        ContainerProcess init;
        lock (container.Lock)
        {
            // Claimed before the init is released, so a second StartContainer is refused, not run twice.
            container.MoveTo(ContainerState.Running);
            // Created implies the init exists (it is set with the move to Created).
            init = container.Init!;
        }

        try
        {
            if (!TryReleaseInit(container))
            {
                await _crun.RunAsync(container.Bundle, ["start", id], null, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            lock (container.Lock)
            {
                if (container.State == ContainerState.Running && !init.HasExited)
                {
                    container.MoveTo(ContainerState.Created);
                }
            }

            throw;
        }

        AgentLog.ContainerStarted(_logger, id);
        return init.Pid;
    }

    // True when the init was released here; false when `crun start` must run (nothing was changed then). Throws when
    // the FIFO was there but the init could not be released (it exited, or a system call failed).
    private bool TryReleaseInit(Container container)
    {
        if (_startThroughRuntime)
        {
            LogRuntimeStartOnce(container.Id, "NOTIFY_SOCKET is in the runtime's environment (crun start relays sd_notify)");
            return false;
        }

        var fifo = ExecFifo.PathOf(_crunStateRoot, container.Id);
        if (ExecFifo.Release(fifo) == ExecFifo.Outcome.Missing)
        {
            LogRuntimeStartOnce(container.Id, $"no exec FIFO at {fifo} (crun's state root is not {_crunStateRoot}?)");
            return false;
        }

        BootTimeline.Mark(BootTimeline.InitReleased);
        return true;
    }

    private void LogRuntimeStartOnce(string containerId, string reason)
    {
        if (Interlocked.Exchange(ref _runtimeStartLogged, 1) == 0)
        {
            AgentLog.StartThroughRuntime(_logger, containerId, reason + "; logged once");
        }
    }
}
