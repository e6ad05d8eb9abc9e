using Cc.Shim.Events;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Sandbox;

public sealed partial class PodSandbox
{
    /// <summary>
    /// Update: new limits for the container's cgroup in the guest, while its init is created, running or paused. The VM
    /// is not resized: limits beyond the VM's own CPUs and memory have no effect beyond them.
    /// </summary>
    public async Task UpdateResourcesAsync(string containerId, ReadOnlyMemory<byte> resourcesJson, CancellationToken cancellationToken)
    {
        var container = FindContainer(containerId);
        await container.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_lock)
            {
                if (container.Init.State is not (ProcessState.Created or ProcessState.Running or ProcessState.Paused))
                {
                    throw new PreconditionFailedException(
                        $"container {containerId}: cannot update resources: the container is {container.Init.State.ToString().ToLowerInvariant()}");
                }
            }
            await RequireVm().Agent.UpdateResourcesAsync(containerId, resourcesJson, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            container.Gate.Release();
        }
    }

    /// <summary>
    /// An OOM kill the VM's watch reported: TaskOOM for a container this shim still serves (the guest may name one
    /// that was deleted meanwhile).
    /// </summary>
    private void PublishOom(string containerId)
    {
        lock (_lock)
        {
            if (!_containers.ContainsKey(containerId))
            {
                return;
            }
            _events.Publish(new TaskOom(_time.GetUtcNow(), containerId));
        }
        Log.OomKill(_logger, containerId);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 109, Level = LogLevel.Warning, Message = "Container {ContainerId}: OOM kill in its memory cgroup")]
        public static partial void OomKill(ILogger logger, string containerId);

    }
}
