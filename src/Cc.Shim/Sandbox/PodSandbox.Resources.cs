using Cc.Shim.Events;
using Cc.Ttrpc;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Sandbox;

public sealed partial class PodSandbox
{
    /// <summary>How long the OOM watch waits before asking again after a failed long-poll.</summary>
    private static readonly TimeSpan OomRetryPause = TimeSpan.FromSeconds(1);

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
    /// For the life of one VM: asks the agent for OOM kills (a long-poll) and publishes TaskOOM for each one in a
    /// container this shim still serves. Ends when the VM ends, when the sandbox is disposed, or when the agent does not
    /// know the call.
    /// </summary>
    private async Task WatchOomAsync(ISandboxVm vm)
    {
        while (!_disposed.IsCancellationRequested && !vm.Exited.IsCompleted)
        {
            string containerId;
            try
            {
                containerId = await vm.Agent.WaitForOomAsync(_disposed.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_disposed.IsCancellationRequested)
            {
                return;
            }
            catch (TtrpcException e) when (e.Code == StatusCode.Unimplemented)
            {
                Log.OomWatchUnsupported(_logger, e.Message);
                return;
            }
            catch (Exception e)
            {
                if (vm.Exited.IsCompleted || _disposed.IsCancellationRequested)
                {
                    return;
                }
                Log.OomWatchFailed(_logger, e);
                await Task.Delay(OomRetryPause, _time, CancellationToken.None).ConfigureAwait(false);
                continue;
            }

            lock (_lock)
            {
                if (!_containers.ContainsKey(containerId))
                {
                    continue;
                }
                _events.Publish(new TaskOom(_time.GetUtcNow(), containerId));
            }
            Log.OomKill(_logger, containerId);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 109, Level = LogLevel.Warning, Message = "Container {ContainerId}: OOM kill in its memory cgroup")]
        public static partial void OomKill(ILogger logger, string containerId);

        [LoggerMessage(EventId = 110, Level = LogLevel.Warning, Message = "Waiting for OOM events from the guest failed; asking again")]
        public static partial void OomWatchFailed(ILogger logger, Exception e);

        [LoggerMessage(EventId = 111, Level = LogLevel.Warning, Message = "The guest agent reports no OOM events ({Reason}); TaskOOM will not be published")]
        public static partial void OomWatchUnsupported(ILogger logger, string reason);
    }
}
