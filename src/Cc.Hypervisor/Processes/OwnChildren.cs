namespace Cc.Hypervisor.Processes;

/// <summary>
/// The pids of the children this process started itself and whose exit somebody is waiting for: the .NET runtime
/// (every <see cref="System.Diagnostics.Process"/>) or one of our own waitpid threads. The orphan reaper of the shim
/// daemon reaps every zombie child that is not in this set, so every way of starting a child must go through
/// <see cref="Start{T}"/>: a child the reaper mistook for an orphan would lose its exit status, and for a
/// <see cref="System.Diagnostics.Process"/> the runtime's own waitpid would then fail and it calls FailFast.
/// </summary>
/// <remarks>
/// Invariant: no child exists that is neither registered nor an orphan while <see cref="WhileNoneStarts"/> runs its
/// action. Starting holds the gate for reading from before the fork until the pid is registered; the reaper holds it
/// for writing while it looks at and reaps zombies. A pid stays registered until its waiter has collected it
/// (<see cref="Collected"/>), so a registered pid is never handed back to the kernel by the reaper; an extra entry
/// (a waiter that never reports) only delays reaping an orphan that happens to get the same pid, it never harms.
/// </remarks>
public static class OwnChildren
{
    private static readonly ReaderWriterLockSlim s_gate = new(LockRecursionPolicy.NoRecursion);
    private static readonly Lock s_pidsGate = new();
    private static readonly HashSet<int> s_pids = [];

    /// <summary>Runs <paramref name="start"/> (which forks) and registers the pid of what it started.</summary>
    public static T Start<T>(Func<T> start, Func<T, int> pidOf)
    {
        s_gate.EnterReadLock();
        try
        {
            var child = start();
            var pid = pidOf(child);
            lock (s_pidsGate)
            {
                s_pids.Add(pid);
            }
            return child;
        }
        finally
        {
            s_gate.ExitReadLock();
        }
    }

    /// <summary>The waiter of <paramref name="pid"/> has reaped it (or knows it is gone): it is no longer ours.</summary>
    public static void Collected(int pid)
    {
        lock (s_pidsGate)
        {
            s_pids.Remove(pid);
        }
    }

    /// <summary>True while <paramref name="pid"/> is a registered child of ours.</summary>
    public static bool Contains(int pid)
    {
        lock (s_pidsGate)
        {
            return s_pids.Contains(pid);
        }
    }

    /// <summary>Runs <paramref name="action"/> while no child can be started, with the registered pids at that time.</summary>
    public static T WhileNoneStarts<T>(Func<IReadOnlySet<int>, T> action)
    {
        s_gate.EnterWriteLock();
        try
        {
            HashSet<int> snapshot;
            lock (s_pidsGate)
            {
                snapshot = [.. s_pids];
            }
            return action(snapshot);
        }
        finally
        {
            s_gate.ExitWriteLock();
        }
    }
}
