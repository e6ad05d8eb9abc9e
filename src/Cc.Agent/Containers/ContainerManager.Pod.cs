using Cc.Agent.Runtime;

namespace Cc.Agent.Containers;

// The pod side of creation: which sandbox container an app container joins, checked before crun
// runs, so a container never starts in namespaces that are not its pod's.
public sealed partial class ContainerManager
{
    private PodNamespaces ResolvePod(string id, PodPlacement placement)
    {
        switch (placement.Role)
        {
            case PodRole.None or PodRole.Sandbox:
                if (placement.SandboxContainerId.Length > 0)
                {
                    throw AgentErrorException.Invalid(
                        $"container {id}: sandbox_container_id is only for app containers (pod role container)");
                }
                if (placement.Role == PodRole.None)
                {
                    return PodNamespaces.Standalone;
                }
                Directory.CreateDirectory(_options.PodShmDirectory);
                return new PodNamespaces(PodRole.Sandbox, 0, _options.PodShmDirectory);
            case PodRole.Container:
                var sandboxPid = SandboxInitPid(id, placement.SandboxContainerId);
                Directory.CreateDirectory(_options.PodShmDirectory);
                return new PodNamespaces(PodRole.Container, sandboxPid, _options.PodShmDirectory);
            default:
                throw AgentErrorException.Invalid($"container {id}: unknown pod role {placement.Role}");
        }
    }

    // The guest pid of the sandbox container's init, whose /proc/<pid>/ns/* the app container joins.
    // Its namespaces exist from `crun create` until the init exits: Created, Running and Paused all do.
    private int SandboxInitPid(string id, string sandboxId)
    {
        if (sandboxId.Length == 0)
        {
            throw AgentErrorException.Invalid($"container {id}: an app container needs its pod's sandbox_container_id");
        }

        Container? sandbox;
        lock (_lock)
        {
            _containers.TryGetValue(sandboxId, out sandbox);
        }

        if (sandbox is null)
        {
            throw AgentErrorException.Precondition($"container {id}: its sandbox container {sandboxId} does not exist in this VM");
        }

        if (sandbox.Role != PodRole.Sandbox)
        {
            throw AgentErrorException.Precondition($"container {id}: container {sandboxId} is not a pod sandbox container");
        }

        lock (sandbox.Lock)
        {
            if (sandbox.State is not (ContainerState.Created or ContainerState.Running or ContainerState.Paused)
                || sandbox.Init is not { HasExited: false } init)
            {
                throw AgentErrorException.Precondition(
                    $"container {id}: its sandbox container {sandboxId} is not running ({Describe(sandbox.State)})");
            }

            return init.Pid;
        }
    }
}
