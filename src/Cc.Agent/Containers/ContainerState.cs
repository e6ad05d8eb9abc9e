namespace Cc.Agent.Containers;

internal enum ContainerState
{
    /// <summary>Id reserved, crun create running. A creation that fails discards the container without a move.</summary>
    Creating,
    /// <summary>crun created the init, which waits for StartContainer.</summary>
    Created,
    Running,
    Paused,
    /// <summary>The init exited (the container may still hold exec records and its cgroup until removed).</summary>
    Stopped,
    /// <summary>RemoveContainer finished: runtime state, bundle and stdio are gone.</summary>
    Removed,
}

/// <summary>
/// The container lifecycle in the guest, one table as the shim's ProcessStateMachine: every state change goes through
/// <see cref="Check"/>, so a move the table lacks is always the one "invalid state transition: A => B" error
/// (FailedPrecondition to the shim).
/// </summary>
internal static class ContainerStateMachine
{
    public static bool Allows(ContainerState from, ContainerState to) => (from, to) switch
    {
        (ContainerState.Creating, ContainerState.Created) => true,
        // StartContainer claims Running before crun start runs, so a second start is refused, not run twice...
        (ContainerState.Created, ContainerState.Running) => true,
        // ...and gives the claim back if crun start failed while the init still waits.
        (ContainerState.Running, ContainerState.Created) => true,
        // An init killed before it was started.
        (ContainerState.Created, ContainerState.Stopped) => true,
        (ContainerState.Running, ContainerState.Paused) => true,
        (ContainerState.Paused, ContainerState.Running) => true,
        (ContainerState.Running, ContainerState.Stopped) => true,
        (ContainerState.Paused, ContainerState.Stopped) => true,
        (ContainerState.Created or ContainerState.Running or ContainerState.Paused or ContainerState.Stopped,
            ContainerState.Removed) => true,
        _ => false,
    };

    /// <summary>Throws the FailedPrecondition "invalid state transition: A => B (container id)" unless allowed.</summary>
    public static void Check(ContainerState from, ContainerState to, string containerId)
    {
        if (!Allows(from, to))
        {
            throw AgentErrorException.Precondition($"invalid state transition: {from} => {to} (container {containerId})");
        }
    }
}
