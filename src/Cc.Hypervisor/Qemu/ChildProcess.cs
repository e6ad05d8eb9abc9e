using System.Diagnostics;
using System.Text;
using Cc.Hypervisor.Processes;

namespace Cc.Hypervisor.Qemu;

/// <summary>
/// A helper process (QEMU, virtiofsd) started with stdin, stdout and stderr redirected: stdin is
/// closed at once (nothing reads it), every output line goes to <c>onLine</c>, and the last
/// <see cref="TailLines"/> lines are kept for error messages.
/// </summary>
internal sealed class ChildProcess : IDisposable
{
    public const int TailLines = 20;

    private readonly Process _process;
    private readonly Lock _tailGate = new();
    private readonly Queue<string> _tail = new();

    private ChildProcess(Process process) => _process = process;

    /// <summary>Kept after exit and dispose: the pid is how callers and logs name the process.</summary>
    public int Pid { get; private set; }

    public bool HasExited => _process.HasExited;

    /// <summary>Completes when the process has exited and its output is drained; 128 + signal when a signal killed it.</summary>
    public Task<int> Exited { get; private set; } = Task.FromResult(0);

    public static ChildProcess Start(string program, IReadOnlyList<string> arguments, Action<string> onLine)
    {
        var info = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(process);
        DataReceivedEventHandler handler = (_, e) =>
        {
            if (e.Data is { } line)
            {
                child.Remember(line);
                onLine(line);
            }
        };
        process.OutputDataReceived += handler;
        process.ErrorDataReceived += handler;
        try
        {
            // Registered before any orphan sweep can see it: the runtime alone reaps this pid.
            OwnChildren.Start(process.Start, _ => process.Id);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            process.Dispose();
            throw new VmStartException($"cannot start {program}: {ex.Message}", "", ex);
        }
        child.Pid = process.Id;
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        child.Exited = child.WaitAsync();
        return child;
    }

    private async Task<int> WaitAsync()
    {
        await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        // WaitForExitAsync completes only after the runtime reaped the pid.
        OwnChildren.Collected(Pid);
        return _process.ExitCode;
    }

    private void Remember(string line)
    {
        lock (_tailGate)
        {
            if (_tail.Count == TailLines)
            {
                _tail.Dequeue();
            }
            _tail.Enqueue(line);
        }
    }

    /// <summary>The last output lines, oldest first.</summary>
    public string Tail()
    {
        lock (_tailGate)
        {
            return string.Join(Environment.NewLine, _tail);
        }
    }

    /// <summary>SIGKILL. A process that already exited is not an error.</summary>
    public void Kill()
    {
        try
        {
            _process.Kill();
        }
        catch (InvalidOperationException)
        {
            // Already exited (and possibly reaped): nothing to kill.
        }
    }

    public void Dispose() => _process.Dispose();
}
