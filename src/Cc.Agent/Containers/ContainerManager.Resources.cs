using Cc.Agent.Runtime;

namespace Cc.Agent.Containers;

// A container's resources: new limits for its cgroup (Task Update) and its OOM kills.
public sealed partial class ContainerManager
{
    private int _updateCounter;

    // Applies an OCI LinuxResources document to the container's cgroup with `crun update
    // --resources`. Only the guest cgroup changes: the VM keeps the CPUs and memory it booted with.
    public async Task UpdateAsync(string id, ReadOnlyMemory<byte> resourcesJson, CancellationToken cancellationToken)
    {
        var container = Get(id);
        var resources = OciSpec.ValidateResources(resourcesJson.Span);
        lock (container.Lock)
        {
            if (container.State is not (ContainerState.Created or ContainerState.Running or ContainerState.Paused)
                || container.Init is not { HasExited: false })
            {
                throw AgentErrorException.Precondition(
                    $"container {id} cannot update its resources: it is {Describe(container.State)}");
            }
        }

        var file = Path.Combine(container.Bundle, $"resources-{Interlocked.Increment(ref _updateCounter)}.json");
        try
        {
            await File.WriteAllBytesAsync(file, resources, cancellationToken).ConfigureAwait(false);
            await _crun.RunAsync(container.Bundle, ["update", $"--resources={file}", id], null, cancellationToken)
                .ConfigureAwait(false);
        }
        finally
        {
            TryDeleteFile(file);
        }
    }

    // The id of the next container whose memory cgroup counted an OOM kill; waits until one does.
    public ValueTask<OomKills> NextOomAsync(CancellationToken cancellationToken) => _oom.NextAsync(cancellationToken);
}
