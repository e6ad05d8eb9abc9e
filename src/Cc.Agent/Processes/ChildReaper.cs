using Cc.Agent.Native;

namespace Cc.Agent.Processes;

// The only caller of waitpid in the process. waitpid(-1) is process-wide, so there is exactly one
// reaper per process (Instance), running on a dedicated thread blocked in waitpid: SIGCHLD cannot be
// observed through PosixSignalRegistration, and a thread in the syscall needs no signal at all.
//
// The process is PID 1 in the guest, and marks itself a child subreaper elsewhere (tests on the
// host), so the container processes that crun forks and leaves behind become our children and
// their exact statuses come here. Exits are routed to whoever claimed the pid; an exit nobody has
// claimed yet is parked, because a detached child (crun exec --detach) can die before we have read
// its pid file. Parked exits carry the reaper's sequence number so that a claim only accepts exits
// that happened after the claimant's spawn began (pids are reused).
public sealed class ChildReaper
{
    private const int MaxParked = 4096;

    private static readonly Lazy<ChildReaper> s_instance = new(() => new ChildReaper(TimeProvider.System));

    private readonly TimeProvider _time;
    private readonly object _lock = new();
    private readonly AutoResetEvent _childAdded = new(false);
    // Guarded by _lock: pid -> the claim waiting for its exit.
    private readonly Dictionary<int, TaskCompletionSource<ExitStatus>> _claims = new();
    // Guarded by _lock: pid -> exit not yet claimed, with the sequence number at which it was reaped.
    private readonly Dictionary<int, (ExitStatus Status, long Sequence)> _parked = new();
    private readonly Queue<int> _parkedOrder = new();
    private long _sequence;

    private ChildReaper(TimeProvider time)
    {
        _time = time;
        if (Environment.ProcessId != 1)
        {
            // Orphans of our children (the container processes crun leaves) re-parent to us.
            LibC.prctl(LibC.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        }

        var thread = new Thread(Run) { IsBackground = true, Name = "cc-agent reaper" };
        thread.Start();
    }

    public static ChildReaper Instance => s_instance.Value;

    // Exits reaped so far, as a mark: take it before spawning, pass it to Claim.
    public long Mark()
    {
        lock (_lock)
        {
            return _sequence;
        }
    }

    // Call after every spawn (including the ones whose grandchildren we will claim): wakes the
    // reaper if it was idle because we had no children.
    public void NotifySpawned() => _childAdded.Set();

    // The exit of `pid`, which must have started after `mark` was taken.
    public Task<ExitStatus> Claim(int pid, long mark)
    {
        lock (_lock)
        {
            if (_parked.TryGetValue(pid, out var parked) && parked.Sequence > mark)
            {
                _parked.Remove(pid);
                return Task.FromResult(parked.Status);
            }

            if (!_claims.TryGetValue(pid, out var claim))
            {
                claim = new TaskCompletionSource<ExitStatus>(TaskCreationOptions.RunContinuationsAsynchronously);
                _claims.Add(pid, claim);
            }

            return claim.Task;
        }
    }

    private unsafe void Run()
    {
        while (true)
        {
            int status;
            var pid = LibC.waitpid(-1, &status, 0);
            if (pid > 0)
            {
                Deliver(pid, ExitStatus.FromWaitStatus(status, _time.GetUtcNow()));
                continue;
            }

            var errno = LibC.LastError;
            if (errno == LibC.EINTR)
            {
                continue;
            }

            // ECHILD: no children at all, so no descendant can re-parent to us until we spawn again.
            // The timeout covers a spawn that forgot to notify.
            _childAdded.WaitOne(TimeSpan.FromSeconds(1));
        }
    }

    private void Deliver(int pid, ExitStatus status)
    {
        TaskCompletionSource<ExitStatus>? claim;
        lock (_lock)
        {
            _sequence++;
            if (_claims.Remove(pid, out claim))
            {
                // completed outside the lock
            }
            else
            {
                // An orphan (or a child not claimed yet): park it, bounded, oldest out first.
                _parked[pid] = (status, _sequence);
                _parkedOrder.Enqueue(pid);
                while (_parkedOrder.Count > MaxParked)
                {
                    var old = _parkedOrder.Dequeue();
                    if (_parked.TryGetValue(old, out var entry) && entry.Sequence <= _sequence - MaxParked)
                    {
                        _parked.Remove(old);
                    }
                }
            }
        }

        claim?.TrySetResult(status);
    }
}
