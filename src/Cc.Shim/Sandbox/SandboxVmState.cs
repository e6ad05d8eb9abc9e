namespace Cc.Shim.Sandbox;

/// <summary>
/// The lifecycle of one pod VM (one <see cref="SandboxVm"/>). A VM is booted at most once: after Stopped the sandbox
/// makes a new <see cref="SandboxVm"/> for the next boot, so nothing of a dead VM (run directory, taps, agent session,
/// watchers) can be mistaken for the new one's.
/// </summary>
public enum SandboxVmState
{
    /// <summary>Made, nothing launched yet.</summary>
    Empty,
    /// <summary>The VMM is starting and the agent is being connected.</summary>
    Booting,
    /// <summary>The agent answers; guest calls are allowed and the watchers run.</summary>
    Ready,
    /// <summary>
    /// The VM died without being asked to (VMM exited, guest panic, agent silent past its deadline). Guest calls fail
    /// fast; the sandbox ends every task of the VM, then stops it.
    /// </summary>
    Failed,
    /// <summary>Being stopped and cleaned up (agent session closed, VMM ended, network and run directory removed).</summary>
    Stopping,
    /// <summary>Nothing of the VM is left.</summary>
    Stopped,
}

/// <summary>
/// The allowed moves, modelled on <see cref="ProcessStateMachine"/>: one table, one "invalid state transition" error.
/// </summary>
public static class SandboxVmStateMachine
{
    public static bool Allows(SandboxVmState from, SandboxVmState to) => (from, to) switch
    {
        (SandboxVmState.Empty, SandboxVmState.Booting) => true,
        // Disposed before it was ever launched.
        (SandboxVmState.Empty, SandboxVmState.Stopped) => true,
        (SandboxVmState.Booting, SandboxVmState.Ready) => true,
        // A launch that failed leaves nothing behind (IVmLauncher's contract), so there is nothing to stop.
        (SandboxVmState.Booting, SandboxVmState.Stopped) => true,
        (SandboxVmState.Ready, SandboxVmState.Failed) => true,
        (SandboxVmState.Ready, SandboxVmState.Stopping) => true,
        (SandboxVmState.Failed, SandboxVmState.Stopping) => true,
        (SandboxVmState.Stopping, SandboxVmState.Stopped) => true,
        _ => false,
    };

    /// <summary>Throws <see cref="InvalidStateTransitionException"/> unless the table allows the move.</summary>
    public static void Check(SandboxVmState from, SandboxVmState to, string subject)
    {
        if (!Allows(from, to))
        {
            throw new InvalidStateTransitionException(from.ToString(), to.ToString(), subject);
        }
    }
}
