namespace Cc.Shim.Sandbox;

/// <summary>A process's lifecycle. A container's state is its init process's state.</summary>
public enum ProcessState
{
    /// <summary>Registered (Create/Exec) but not started.</summary>
    Created,
    Running,
    Paused,
    /// <summary>Exited; exit status and time are known. Wait answers from here on.</summary>
    Stopped,
    /// <summary>Removed by Delete; the record is gone from the shim.</summary>
    Deleted,
}

/// <summary>
/// The allowed transitions. Everything the shim does to a process goes through <see cref="Check"/>, so the event order
/// Create → Start → Exit → Delete is a consequence of the table, not of call order: Exit needs Running (or Paused),
/// Delete needs Created or Stopped.
/// </summary>
public static class ProcessStateMachine
{
    public static bool Allows(ProcessState from, ProcessState to) => (from, to) switch
    {
        (ProcessState.Created, ProcessState.Running) => true,
        (ProcessState.Created, ProcessState.Deleted) => true,
        // A process that failed to start is recorded as stopped; it never had a TaskStart, so it gets no TaskExit.
        (ProcessState.Created, ProcessState.Stopped) => true,
        (ProcessState.Running, ProcessState.Paused) => true,
        (ProcessState.Running, ProcessState.Stopped) => true,
        (ProcessState.Paused, ProcessState.Running) => true,
        (ProcessState.Paused, ProcessState.Stopped) => true,
        (ProcessState.Stopped, ProcessState.Deleted) => true,
        _ => false,
    };

    /// <summary>Throws <see cref="InvalidStateTransitionException"/> unless the table allows the move.</summary>
    public static void Check(ProcessState from, ProcessState to, string subject)
    {
        if (!Allows(from, to))
        {
            throw new InvalidStateTransitionException(from.ToString(), to.ToString(), subject);
        }
    }
}
