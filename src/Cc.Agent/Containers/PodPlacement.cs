namespace Cc.Agent.Containers;

// What a container is in its pod, as the host decided it (agent.proto PodRole): the agent only
// executes the choice of namespaces it implies (docs/agent-api.md, "Pod namespaces").
public enum PodRole
{
    // Alone in the VM (ctr run): fresh namespaces of every type its spec lists.
    None,

    // A CRI pod's sandbox (pause) container: owns the pod's IPC, UTS and PID namespaces.
    Sandbox,

    // An app container of a CRI pod: joins the sandbox container's namespaces.
    Container,
}

// A container's place in its pod. SandboxContainerId is set exactly for PodRole.Container.
public sealed record PodPlacement(PodRole Role, string SandboxContainerId)
{
    public static PodPlacement Standalone { get; } = new(PodRole.None, "");
}
