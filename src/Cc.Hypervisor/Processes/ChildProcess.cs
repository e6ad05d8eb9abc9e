using System.Runtime.InteropServices;
using System.Text;
using Cc.Hypervisor.Native;
using Microsoft.Win32.SafeHandles;

namespace Cc.Hypervisor.Processes;

/// <summary>
/// A child started by <see cref="ChildSpawner"/>: its exit waiter, its captured output and its signals.
/// </summary>
/// <remarks>
/// Who waits for whom: one dedicated thread per child blocks in waitid(P_PID, pid, WEXITED | WNOWAIT), which sees the
/// exit without reaping it, then, under <c>_gate</c>, reaps exactly this pid with waitpid(pid) and marks it reaped;
/// then it reports <see cref="OwnChildren.Collected"/>. Never waitpid(-1): the daemon's orphan reaper owns every pid
/// not in <see cref="OwnChildren"/>. Signals are sent under the same gate and only while the pid is unreaped, so a
/// kill can never reach a recycled pid (until the reap the zombie holds the number). A thread rather than a pidfd:
/// the children are few (QEMU, virtiofsd, a logger per container) and a blocked thread needs no event loop.
/// </remarks>
public sealed class ChildProcess : IDisposable
{
    public const int TailLines = 20;

    /// <summary>After the exit, how long <see cref="Exited"/> waits for the captured output to reach end-of-file: a
    /// descendant that inherited the pipe may hold it open for ever.</summary>
    private static readonly TimeSpan s_drainTimeout = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    private readonly Lock _tailGate = new();
    private readonly Queue<string> _tail = new();
    private readonly TaskCompletionSource<int> _reaped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly bool _ownGroup;
    private readonly string _executable;
    private SafeFileHandle? _capture;
    private Task _drained = Task.CompletedTask;

    // Guarded by _gate: true once waitpid collected the pid; from then on the number may belong to someone else.
    private bool _isReaped;

    private ChildProcess(int pid, string executable, bool ownGroup)
    {
        Pid = pid;
        _executable = executable;
        _ownGroup = ownGroup;
        Exited = ExitedAsync();
    }

    public int Pid { get; }

    /// <summary>True once the child has been reaped (its output may still be draining).</summary>
    public bool HasExited
    {
        get
        {
            lock (_gate)
            {
                return _isReaped;
            }
        }
    }

    /// <summary>Completes when the child has been reaped and its captured output drained: the exit code, 128 + N when
    /// signal N killed it, -1 if its status was lost.</summary>
    public Task<int> Exited { get; }

    internal static ChildProcess Track(int pid, SpawnOptions options, SafeFileHandle? capture)
    {
        var child = new ChildProcess(pid, options.Executable, options.NewProcessGroup);
        if (capture is not null)
        {
            child._capture = capture;
            Action<string>? onLine = options.OnOutputLine;
            child._drained = Task.Factory.StartNew(() => child.ReadLines(capture, onLine), CancellationToken.None,
                TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        var waiter = new Thread(child.Wait) { IsBackground = true, Name = $"wait {pid}" };
        waiter.Start();
        return child;
    }

    /// <summary>Sends <paramref name="signal"/> to the child; false when it was already reaped (nothing to signal).</summary>
    public bool Signal(int signal) => Send(Pid, signal);

    /// <summary>Sends <paramref name="signal"/> to the child's whole process group (it started in its own, see
    /// <see cref="SpawnOptions.NewProcessGroup"/>); false when the child was already reaped.</summary>
    public bool SignalGroup(int signal) =>
        _ownGroup ? Send(-Pid, signal) : throw new InvalidOperationException($"{_executable} has no process group of its own");

    /// <summary>SIGKILL. A child that already exited is not an error.</summary>
    public void Kill() => Signal(LibC.SIGKILL);

    /// <summary>The last <see cref="TailLines"/> captured lines, oldest first.</summary>
    public string Tail()
    {
        lock (_tailGate)
        {
            return string.Join(System.Environment.NewLine, _tail);
        }
    }

    /// <summary>Releases the capture pipe once the output has drained; the child itself is neither signalled nor awaited.</summary>
    public void Dispose()
    {
        if (_drained.IsCompleted)
        {
            _capture?.Dispose();
        }
    }

    private bool Send(int target, int signal)
    {
        lock (_gate)
        {
            if (_isReaped)
            {
                return false;
            }
            if (LibC.kill(target, signal) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                // ESRCH for a group whose leader is a zombie and whose members are gone: nothing left to signal.
                return errno == LibC.ESRCH ? false : throw new IOException($"kill({target}, {signal}): {LibC.ErrorText(errno)}");
            }
            return true;
        }
    }

    private async Task<int> ExitedAsync()
    {
        int status = await _reaped.Task.ConfigureAwait(false);
        try
        {
            await _drained.WaitAsync(s_drainTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A descendant still holds the pipe; the lines it writes still arrive, the exit does not wait for them.
        }
        return status;
    }

    private unsafe void Wait()
    {
        byte* info = stackalloc byte[LibC.SigInfoBytes];
        int rc;
        do
        {
            rc = LibC.waitid(LibC.P_PID, Pid, info, LibC.WEXITED | LibC.WNOWAIT);
        }
        while (rc < 0 && Marshal.GetLastPInvokeError() == LibC.EINTR);
        int status = -1;
        lock (_gate)
        {
            // The zombie is there (or, on ECHILD, somebody broke the rule and took it): this waitpid does not block.
            int raw;
            int reaped;
            do
            {
                reaped = LibC.waitpid(Pid, &raw, 0);
            }
            while (reaped < 0 && Marshal.GetLastPInvokeError() == LibC.EINTR);
            if (reaped == Pid)
            {
                int signal = raw & 0x7f;
                status = signal == 0 ? (raw >> 8) & 0xff : 128 + signal;
            }
            _isReaped = true;
        }
        OwnChildren.Collected(Pid);
        _reaped.SetResult(status);
    }

    private void ReadLines(SafeFileHandle capture, Action<string>? onLine)
    {
        using var stream = new FileStream(capture, FileAccess.Read, bufferSize: 0);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        try
        {
            while (reader.ReadLine() is { } line)
            {
                lock (_tailGate)
                {
                    if (_tail.Count == TailLines)
                    {
                        _tail.Dequeue();
                    }
                    _tail.Enqueue(line);
                }
                onLine?.Invoke(line);
            }
        }
        catch (IOException)
        {
            // The pipe broke: end of output all the same.
        }
    }
}
