using System.Runtime.InteropServices;
using Cc.Hypervisor.Processes;
using Cc.Shim.Native;
using Cc.Shim.Sandbox;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Cc.Shim.Io;

/// <summary>How long a <c>binary://</c> logger gets at each step; tests shorten them.</summary>
public sealed record BinaryLoggerTimeouts
{
    public static BinaryLoggerTimeouts Default { get; } = new();

    /// <summary>From spawn until the logger closes (or writes to) fd 5; beyond it Create/Exec fails.</summary>
    public TimeSpan Ready { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>After the shim closed the pipes' write ends: time to drain and exit on its own before SIGTERM.</summary>
    public TimeSpan ExitGrace { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>After SIGTERM, before SIGKILL.</summary>
    public TimeSpan Terminate { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// One <c>binary:///path?k=v</c> logger process (protocol.md §3.7.2): argv = the query pairs, environment only
/// <c>CONTAINER_ID</c> and <c>CONTAINER_NAMESPACE</c>, fd 3 = read end of the stdout pipe, fd 4 = read end of the
/// stderr pipe, fd 5 = write end of the readiness pipe. The shim holds the write ends of the two output pipes and the
/// read end of the readiness pipe, nothing else.
/// </summary>
/// <remarks>
/// The logger runs in a process group of its own, so the SIGTERM/SIGKILL of <see cref="DisposeAsync"/> reaches the
/// children it may have started too. It is reaped by a dedicated thread blocked in waitpid(pid): the .NET runtime's
/// SIGCHLD handling only reaps the children it started itself, and the daemon's <see cref="Lifetime.OrphanReaper"/>
/// leaves every pid registered in <see cref="OwnChildren"/> alone (<see cref="ChildSpawner"/> registers it), so this
/// pid is ours alone to wait for.
/// </remarks>
public sealed partial class BinaryLogger : IAsyncDisposable
{
    /// <summary>How long a readiness that came as end-of-file waits to tell a logger that closed fd 5 from one that died.</summary>
    private static readonly TimeSpan s_deathCheck = TimeSpan.FromMilliseconds(250);

    private readonly string _path;
    private readonly BinaryLoggerTimeouts _timeouts;
    private readonly ILogger _logger;
    private int _disposed;

    private BinaryLogger(string path, int pid, FileStream stdout, FileStream stderr, Task<int> exited,
        BinaryLoggerTimeouts timeouts, ILogger logger)
    {
        _path = path;
        Pid = pid;
        Stdout = stdout;
        Stderr = stderr;
        Exited = exited;
        _timeouts = timeouts;
        _logger = logger;
    }

    public int Pid { get; }

    /// <summary>The write end of the pipe the logger reads as fd 3.</summary>
    public FileStream Stdout { get; }

    /// <summary>The write end of the pipe the logger reads as fd 4.</summary>
    public FileStream Stderr { get; }

    /// <summary>Completes when the logger has been reaped: its exit code, 128 + N when signal N killed it, -1 if lost.</summary>
    public Task<int> Exited { get; }

    /// <summary>The logger's environment: nothing of the shim's, only who the output belongs to.</summary>
    public static IReadOnlyDictionary<string, string> Environment(string containerId, string ns) =>
        new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["CONTAINER_ID"] = containerId,
            ["CONTAINER_NAMESPACE"] = ns,
        };

    /// <summary>
    /// Spawns the logger and waits until it is ready. A logger that cannot be started is bad input
    /// (<see cref="InvalidRequestException"/>); one that dies or stays silent past <see cref="BinaryLoggerTimeouts.Ready"/>
    /// is a <see cref="PreconditionFailedException"/>. Either way nothing is left behind.
    /// </summary>
    public static async Task<BinaryLogger> StartAsync(StdioTarget.Binary target, string containerId, string ns,
        BinaryLoggerTimeouts timeouts, ILogger logger, CancellationToken cancellationToken)
    {
        if (!Path.IsPathFullyQualified(target.Path))
        {
            throw new InvalidRequestException($"binary logger path must be absolute, got \"{target.Path}\"");
        }
        var (stdoutRead, stdoutWrite) = Pipe();
        var (stderrRead, stderrWrite) = Pipe();
        var (readyRead, readyWrite) = Pipe();
        int pid;
        try
        {
            pid = ChildSpawner.Spawn(target.Path, target.Arguments, Environment(containerId, ns),
                [stdoutRead, stderrRead, readyWrite]);
        }
        catch (ChildSpawnException e)
        {
            CloseAll(stdoutRead, stdoutWrite, stderrRead, stderrWrite, readyRead, readyWrite);
            throw new InvalidRequestException($"binary logger {target.Path}: {e.Message}", e);
        }
        catch
        {
            CloseAll(stdoutRead, stdoutWrite, stderrRead, stderrWrite, readyRead, readyWrite);
            throw;
        }
        // The logger has its copies; ours of its ends must go, or fd 5 never reads end-of-file.
        CloseAll(stdoutRead, stderrRead, readyWrite);

        var exited = Reap(pid);
        var result = new BinaryLogger(target.Path, pid,
            new FileStream(new SafeFileHandle(stdoutWrite, ownsHandle: true), FileAccess.Write, bufferSize: 0),
            new FileStream(new SafeFileHandle(stderrWrite, ownsHandle: true), FileAccess.Write, bufferSize: 0),
            exited, timeouts, logger);
        Log.LoggerStarted(logger, target.Path, pid, containerId);
        try
        {
            var signalled = await WaitReadyAsync(readyRead, timeouts.Ready, cancellationToken).ConfigureAwait(false);
            if (!signalled)
            {
                throw new PreconditionFailedException(
                    $"binary logger {target.Path} (pid {pid}) did not signal readiness on fd 5 within {timeouts.Ready.TotalSeconds:0.#} s");
            }
            // End-of-file on fd 5 is also what a logger that died looks like; a short look at its exit tells them apart.
            if (await Task.WhenAny(exited, Task.Delay(s_deathCheck, cancellationToken)).ConfigureAwait(false) == exited
                && await exited.ConfigureAwait(false) is var status and not 0)
            {
                throw new PreconditionFailedException(
                    $"binary logger {target.Path} (pid {pid}) exited with status {status} while starting");
            }
            return result;
        }
        catch
        {
            await result.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            LibC.close(readyRead);
        }
    }

    /// <summary>
    /// Closes the write ends (the logger reads end-of-file on fds 3 and 4), lets it exit on its own, then SIGTERM, then
    /// SIGKILL, each step bounded; the logger is reaped before this returns. Idempotent.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            await Exited.ConfigureAwait(false);
            return;
        }
        await Stdout.DisposeAsync().ConfigureAwait(false);
        await Stderr.DisposeAsync().ConfigureAwait(false);
        if (await ExitsWithinAsync(_timeouts.ExitGrace).ConfigureAwait(false))
        {
            return;
        }
        Log.LoggerSignalled(_logger, _path, Pid, "SIGTERM");
        SignalGroup(LibC.SIGTERM);
        if (await ExitsWithinAsync(_timeouts.Terminate).ConfigureAwait(false))
        {
            return;
        }
        Log.LoggerSignalled(_logger, _path, Pid, "SIGKILL");
        SignalGroup(LibC.SIGKILL);
        // SIGKILL cannot be refused; the bound only protects Delete against a process stuck in the kernel (D state).
        if (!await ExitsWithinAsync(_timeouts.Terminate).ConfigureAwait(false))
        {
            Log.LoggerNotReaped(_logger, _path, Pid);
        }
    }

    private async Task<bool> ExitsWithinAsync(TimeSpan timeout)
    {
        try
        {
            await Exited.WaitAsync(timeout).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>The whole group: a logger's own children must not outlive it (they would be orphans of this shim).</summary>
    private void SignalGroup(int signal)
    {
        if (LibC.kill(-Pid, signal) != 0 && Marshal.GetLastPInvokeError() != LibC.ESRCH)
        {
            Log.SignalFailed(_logger, _path, Pid, LibC.ErrorText(Marshal.GetLastPInvokeError()));
        }
    }

    private static unsafe (int Read, int Write) Pipe()
    {
        var fds = stackalloc int[2];
        if (LibC.pipe2(fds, LibC.O_CLOEXEC) != 0)
        {
            throw new IOException($"pipe2: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
        }
        return (fds[0], fds[1]);
    }

    private static void CloseAll(params ReadOnlySpan<int> fds)
    {
        foreach (var fd in fds)
        {
            LibC.close(fd);
        }
    }

    /// <summary>True when fd 5 was written to or closed; false on timeout. Polls in slices so cancellation is seen.</summary>
    private static Task<bool> WaitReadyAsync(int readyFd, TimeSpan timeout, CancellationToken cancellationToken) =>
        Task.Factory.StartNew(() => WaitReady(readyFd, timeout, cancellationToken), cancellationToken,
            TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static unsafe bool WaitReady(int readyFd, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = System.Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var left = deadline - System.Environment.TickCount64;
            if (left <= 0)
            {
                return false;
            }
            var pollFd = new LibC.PollFd { Fd = readyFd, Events = LibC.POLLIN };
            var n = LibC.poll(&pollFd, 1, (int)Math.Min(left, 200));
            if (n < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == LibC.EINTR)
                {
                    continue;
                }
                throw new IOException($"poll on the logger's readiness pipe: {LibC.ErrorText(errno)}");
            }
            if (n > 0)
            {
                // POLLIN (a byte) or POLLHUP (closed): either is the signal. The byte itself means nothing.
                return true;
            }
        }
    }

    /// <summary>A thread blocked in waitpid for this one pid; it ends when the logger does.</summary>
    private static Task<int> Reap(int pid)
    {
        var exited = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            var status = WaitPid(pid);
            OwnChildren.Collected(pid);
            exited.SetResult(status);
        })
        {
            IsBackground = true,
            Name = $"reap logger {pid}",
        };
        thread.Start();
        return exited.Task;
    }

    private static unsafe int WaitPid(int pid)
    {
        int status;
        while (LibC.waitpid(pid, &status, 0) < 0)
        {
            if (Marshal.GetLastPInvokeError() != LibC.EINTR)
            {
                return -1; // ECHILD: someone else reaped it; it is gone all the same.
            }
        }
        var signal = status & 0x7f;
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 310, Level = LogLevel.Debug, Message = "Started binary logger {Path} (pid {Pid}) for {Container}")]
        public static partial void LoggerStarted(ILogger logger, string path, int pid, string container);

        [LoggerMessage(EventId = 311, Level = LogLevel.Information,
            Message = "Binary logger {Path} (pid {Pid}) did not exit after its pipes closed; sending {Signal}")]
        public static partial void LoggerSignalled(ILogger logger, string path, int pid, string signal);

        [LoggerMessage(EventId = 312, Level = LogLevel.Warning, Message = "Binary logger {Path} (pid {Pid}) was not reaped after SIGKILL")]
        public static partial void LoggerNotReaped(ILogger logger, string path, int pid);

        [LoggerMessage(EventId = 313, Level = LogLevel.Warning, Message = "Signalling binary logger {Path} (pid {Pid}) failed: {Error}")]
        public static partial void SignalFailed(ILogger logger, string path, int pid, string error);
    }
}
