using System.Runtime.InteropServices;
using Cc.Hypervisor.Processes;
using Cc.Hypervisor.Native;
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
/// children it may have started too. <see cref="ChildSpawner"/> starts it with exactly fds 0-2 (/dev/null) and 3-5, and
/// its <see cref="ChildProcess"/> alone reaps it (the daemon's <see cref="Lifetime.OrphanReaper"/> leaves every pid
/// registered in <see cref="OwnChildren"/> alone).
/// </remarks>
public sealed partial class BinaryLogger : IAsyncDisposable
{
    /// <summary>How long a readiness that came as end-of-file waits to tell a logger that closed fd 5 from one that died.</summary>
    private static readonly TimeSpan s_deathCheck = TimeSpan.FromMilliseconds(250);

    private readonly string _path;
    private readonly BinaryLoggerTimeouts _timeouts;
    private readonly ILogger _logger;
    private int _disposed;

    private readonly ChildProcess _process;

    private BinaryLogger(string path, ChildProcess process, FileStream stdout, FileStream stderr,
        BinaryLoggerTimeouts timeouts, ILogger logger)
    {
        _path = path;
        _process = process;
        Stdout = stdout;
        Stderr = stderr;
        _timeouts = timeouts;
        _logger = logger;
    }

    public int Pid => _process.Pid;

    /// <summary>The write end of the pipe the logger reads as fd 3.</summary>
    public FileStream Stdout { get; }

    /// <summary>The write end of the pipe the logger reads as fd 4.</summary>
    public FileStream Stderr { get; }

    /// <summary>Completes when the logger has been reaped: its exit code, 128 + N when signal N killed it, -1 if lost.</summary>
    public Task<int> Exited => _process.Exited;

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
        var (stdoutRead, stdoutWrite) = AnonymousPipe.Create();
        var (stderrRead, stderrWrite) = AnonymousPipe.Create();
        var (readyRead, readyWrite) = AnonymousPipe.Create();
        ChildProcess process;
        try
        {
            process = ChildSpawner.Spawn(new SpawnOptions
            {
                Executable = target.Path,
                Arguments = target.Arguments,
                Environment = Environment(containerId, ns),
                Fds = [new InheritedFd(3, stdoutRead), new InheritedFd(4, stderrRead), new InheritedFd(5, readyWrite)],
            });
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

        var pid = process.Pid;
        var exited = process.Exited;
        var result = new BinaryLogger(target.Path, process,
            new FileStream(stdoutWrite, FileAccess.Write, bufferSize: 0),
            new FileStream(stderrWrite, FileAccess.Write, bufferSize: 0),
            timeouts, logger);
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
            readyRead.Dispose();
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
        try
        {
            _process.SignalGroup(signal);
        }
        catch (IOException e)
        {
            Log.SignalFailed(_logger, _path, Pid, e.Message);
        }
    }

    private static void CloseAll(params ReadOnlySpan<SafeFileHandle> handles)
    {
        foreach (var handle in handles)
        {
            handle.Dispose();
        }
    }

    /// <summary>True when fd 5 was written to or closed; false on timeout. Polls in slices so cancellation is seen.</summary>
    private static Task<bool> WaitReadyAsync(SafeFileHandle readyFd, TimeSpan timeout, CancellationToken cancellationToken) =>
        Task.Factory.StartNew(() => WaitReady(readyFd, timeout, cancellationToken), cancellationToken,
            TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static unsafe bool WaitReady(SafeFileHandle ready, TimeSpan timeout, CancellationToken cancellationToken)
    {
        // The handle outlives this wait: StartAsync disposes it only after the wait's task completed.
        var readyFd = (int)ready.DangerousGetHandle();
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
