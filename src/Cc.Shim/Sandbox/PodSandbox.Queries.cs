namespace Cc.Shim.Sandbox;

public sealed partial class PodSandbox
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
    /// Pids of a live container: the guest's processes when the agent answers within <paramref name="guestTimeout"/>,
    /// otherwise the VMM pid — never empty, or containerd 1.7+ deletes the task as leaked after a restart.
    /// </summary>
    public async Task<IReadOnlyList<GuestProcess>> PidsAsync(string containerId, TimeSpan guestTimeout,
        CancellationToken cancellationToken)
    {
        FindContainer(containerId);
        if (Volatile.Read(ref _vm) is { } life && life.TryGetReady(out var vm))
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
}
