using System.Diagnostics;
using System.Text;

namespace Cc.Integration.Containerd.Harness;

/// <summary>
/// A started child process whose stdout and stderr are drained continuously (a full pipe would block
/// the child). Output is readable while the process runs, so tests can wait for a marker line.
/// Disposing kills the whole process tree if it is still running.
/// </summary>
internal sealed class RunningProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    // Guards both builders: the drain tasks append while test code reads snapshots.
    private readonly Lock _gate = new();
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Task _stdoutDrain;
    private readonly Task _stderrDrain;

    public RunningProcess(string file, IEnumerable<string> args, Func<Stream, CancellationToken, Task>? stdoutConsumer)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        Command = string.Join(' ', info.ArgumentList.Prepend(file).Select(ShellQuote.Quote));
        _process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {Command}");
        // No test feeds stdin; closing it gives the child EOF instead of a pipe that never ends.
        _process.StandardInput.Close();
        _stdoutDrain = stdoutConsumer is null
            ? DrainAsync(_process.StandardOutput, _stdout, CancellationToken.None)
            : stdoutConsumer(_process.StandardOutput.BaseStream, CancellationToken.None);
        _stderrDrain = DrainAsync(_process.StandardError, _stderr, CancellationToken.None);
    }

    public string Command { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Stdout
    {
        get
        {
            lock (_gate)
            {
                return _stdout.ToString();
            }
        }
    }

    public string Stderr
    {
        get
        {
            lock (_gate)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Waits until stdout contains <paramref name="marker"/>; fails if the process exits first or time runs out.</summary>
    public async Task WaitForStdoutAsync(string marker, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (!Stdout.Contains(marker, StringComparison.Ordinal))
        {
            if (_process.HasExited)
            {
                var result = await WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
                throw new InvalidOperationException($"exited before printing '{marker}':\n{result.Describe()}");
            }

            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException(
                    $"no '{marker}' on stdout within {timeout.TotalSeconds} s:\n$ {Command}\nstdout: {ProcessResult.Tail(Stdout)}\nstderr: {ProcessResult.Tail(Stderr)}");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>Waits for exit; on timeout kills the process tree and throws with whatever it printed.</summary>
    public async Task<ProcessResult> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(timer.Token);
            // Exit comes before EOF on the pipes; a grandchild holding them open must not hang us.
            await Task.WhenAll(_stdoutDrain, _stderrDrain).WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Kill();
            throw new TimeoutException(
                $"still running after {timeout.TotalSeconds} s, killed:\n$ {Command}\nstdout: {ProcessResult.Tail(Stdout)}\nstderr: {ProcessResult.Tail(Stderr)}");
        }

        return new ProcessResult(Command, _process.ExitCode, Stdout, Stderr, _clock.Elapsed);
    }

    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited: nothing to kill.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Kill();
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }

        _process.Dispose();
    }

    // Drains until EOF; callers pass None because the drains must outlive any one wait (EOF comes
    // when the process and every child holding the pipe have exited, or after Kill).
    private async Task DrainAsync(StreamReader reader, StringBuilder sink, CancellationToken cancellationToken)
    {
        var buffer = new char[8192];
        int read;
        while ((read = await reader.ReadAsync(buffer, cancellationToken)) > 0)
        {
            lock (_gate)
            {
                sink.Append(buffer, 0, read);
            }
        }
    }
}
