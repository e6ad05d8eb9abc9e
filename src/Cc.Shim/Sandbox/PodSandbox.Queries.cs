namespace Cc.Shim.Sandbox;

public sealed partial class PodSandbox : Monitoring.ISandboxMetricsSource
{
    /// <summary>State from the cache only: containerd gives it 2 s and it must never wait for the guest.</summary>
    public ProcessSnapshot State(ProcessKey key)
    {
        lock (_lock)
        {
            return FindProcess(FindContainer(key.ContainerId), key).Snapshot();
        }
    }

    /// <summary>The init pid of a container, or 0 when the id is unknown (Connect does not fail on it).</summary>
    public uint TaskPid(string containerId)
    {
        lock (_lock)
        {
            return _containers.TryGetValue(containerId, out var container) ? container.Init.Pid : 0;
        }
    }

    /// <summary>
    /// Pids of a live container. When <paramref name="source"/> lists the guest in this pod's namespace
    /// (<see cref="PidsSources.ListsGuest"/>): the guest's processes when the agent answers within
    /// <paramref name="guestTimeout"/>, otherwise the VMM pid — never empty, or containerd 1.7+ deletes the task as
    /// leaked after a restart. Otherwise the VMM pid alone: `docker top` then shows the QEMU that runs the container, a
    /// true host process, and never an unrelated one (docs/compatibility.md).
    /// </summary>
    public async Task<IReadOnlyList<GuestProcess>> PidsAsync(string containerId, PidsSource source, TimeSpan guestTimeout,
        CancellationToken cancellationToken)
    {
        FindContainer(containerId);
        if (source.ListsGuest(_options.Namespace) && Volatile.Read(ref _vm) is { } life && life.TryGetReady(out var vm))
        {
            try
            {
                var processes = await vm.Agent.ListProcessesAsync(containerId, cancellationToken)
                    .WaitAsync(guestTimeout, cancellationToken).ConfigureAwait(false);
                if (processes.Count > 0)
                {
                    return processes;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // Fall through to the VMM pid: a slow or failing guest must not make the task look leaked.
            }
        }
        return [new GuestProcess((uint)VmPid, "vmm")];
    }

    public Task<ContainerStats> StatsAsync(string containerId, CancellationToken cancellationToken)
    {
        FindContainer(containerId);
        return RequireVm().Agent.StatsAsync(containerId, cancellationToken);
    }

    /// <summary>
    /// The guest's numbers of every container whose init process is running, for the metrics endpoint: the same
    /// agent call as Task Stats. A container whose stats fail (it exited meanwhile) is left out, not an error; no VM
    /// ready = no containers.
    /// </summary>
    public async Task<IReadOnlyList<(string ContainerId, ContainerStats Stats)>> RunningContainerStatsAsync(
        CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _vm) is not { } life || !life.TryGetReady(out var vm))
        {
            return [];
        }
        List<string> running;
        lock (_lock)
        {
            running = _containers.Values.Where(c => c.Init.State is ProcessState.Running or ProcessState.Paused).Select(c => c.Id).ToList();
        }
        var stats = new List<(string, ContainerStats)>(running.Count);
        foreach (var id in running)
        {
            try
            {
                stats.Add((id, await vm.Agent.StatsAsync(id, cancellationToken).ConfigureAwait(false)));
            }
            catch (Exception e) when (e is NotFoundException or SandboxUnavailableException or Cc.Ttrpc.TtrpcException)
            {
                // Exited or removed since the list was taken, or the VM is going: nothing to report for it.
            }
        }
        return stats;
    }
}
