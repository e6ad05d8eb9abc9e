using System.Globalization;
using System.Runtime.InteropServices;
using Cc.Hypervisor.Processes;
using Cc.Hypervisor.Native;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Lifetime;

/// <summary>
/// Reaps the zombies the daemon inherits as a child subreaper: orphans of QEMU, virtiofsd, the publish binary and
/// <c>binary://</c> loggers (and whatever they started) are re-parented to the daemon, and nobody else waits for them.
/// </summary>
/// <remarks>
/// <para>
/// The .NET runtime reaps on SIGCHLD only the pids of its own <see cref="System.Diagnostics.Process"/> objects (it
/// reaps everything with waitpid(-1) only as PID 1 or when it started with SIGCHLD ignored; the daemon is neither, as
/// <see cref="ChildSpawner"/> resets SIGCHLD to default). Its waitpid for one of its own pids that someone else reaped
/// is fatal (FailFast), and a <c>binary://</c> logger's waitpid thread would lose the exit status. So this reaper never
/// uses waitpid(-1) or waitid(P_ALL): it lists its zombie children in /proc and reaps, one pid at a time, those that
/// are not registered in <see cref="OwnChildren"/>, while <see cref="OwnChildren.WhileNoneStarts"/> holds off every
/// start. A zombie child that is not registered then cannot be one we started (those are registered from before
/// the fork could have been seen), and since only this reaper waits for unregistered pids, the pid it reaps is the
/// zombie it saw. waitid(WNOWAIT) to peek was not enough: it reports one zombie at a time, and an own child the runtime
/// has not reaped yet would hide the orphans behind it.
/// </para>
/// <para>
/// A sweep runs on every SIGCHLD (an orphan's exit signals its new parent, us) and every <see cref="Backstop"/> in
/// case a signal was coalesced with one that arrived while a sweep was already listing.
/// </para>
/// </remarks>
public sealed partial class OrphanReaper : IDisposable
{
    /// <summary>A sweep runs at least this often even without SIGCHLD.</summary>
    public static readonly TimeSpan Backstop = TimeSpan.FromSeconds(5);

    private readonly ILogger _logger;
    private readonly AutoResetEvent _wake = new(false);
    private readonly PosixSignalRegistration? _sigchld;
    private readonly Thread _thread;
    private volatile bool _stopped;

    public OrphanReaper(ILogger logger)
    {
        _logger = logger;
        // Not cancelled: the runtime still runs its own SIGCHLD handling (reaping its Process children) after this.
        // (Linux only, like the whole shim; the guard is for the platform analyzer.)
        _sigchld = OperatingSystem.IsLinux() ? PosixSignalRegistration.Create(PosixSignal.SIGCHLD, _ => Wake()) : null;
        _thread = new Thread(Run) { IsBackground = true, Name = "orphan reaper" };
        _thread.Start();
    }

    /// <summary>Zombie children not registered in <see cref="OwnChildren"/> are reaped; returns their pids.</summary>
    public static IReadOnlyList<int> Sweep() =>
        OwnChildren.WhileNoneStarts(own =>
        {
            var reaped = new List<int>();
            foreach (var pid in ZombieChildren(Environment.ProcessId))
            {
                if (!own.Contains(pid) && Reap(pid))
                {
                    reaped.Add(pid);
                }
            }
            return (IReadOnlyList<int>)reaped;
        });

    public void Dispose()
    {
        _stopped = true;
        _sigchld?.Dispose();
        _wake.Set();
        _thread.Join();
        _wake.Dispose();
    }

    /// <summary>
    /// The runtime dispatches a signal on the thread pool, so a SIGCHLD that arrived just before <see cref="Dispose"/>
    /// unregistered the handler can still run after it disposed the event: nothing is left to wake then.
    /// </summary>
    private void Wake()
    {
        try
        {
            _wake.Set();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void Run()
    {
        while (!_stopped)
        {
            _wake.WaitOne(Backstop);
            if (_stopped)
            {
                return;
            }
            try
            {
                foreach (var pid in Sweep())
                {
                    Log.Reaped(_logger, pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.SweepFailed(_logger, e.Message);
            }
        }
    }

    /// <summary>Pids whose /proc stat says state Z and parent <paramref name="parent"/>.</summary>
    private static IEnumerable<int> ZombieChildren(int parent)
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(directory, "stat"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // Gone (reaped by its own parent) between listing and reading.
            }
            // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so fields count from the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 1 && fields[0] == "Z"
                && int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var ppid) && ppid == parent)
            {
                yield return pid;
            }
        }
    }

    private static unsafe bool Reap(int pid)
    {
        int status;
        int rc;
        do
        {
            rc = LibC.waitpid(pid, &status, LibC.WNOHANG);
        }
        while (rc < 0 && Marshal.GetLastPInvokeError() == LibC.EINTR);
        return rc == pid;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5, Level = LogLevel.Debug, Message = "Reaped orphaned descendant pid {Pid}")]
        public static partial void Reaped(ILogger logger, int pid);

        [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Listing orphaned descendants failed: {Error}")]
        public static partial void SweepFailed(ILogger logger, string error);
    }
}
