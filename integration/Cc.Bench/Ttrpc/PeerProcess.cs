using System.Diagnostics;
using System.Globalization;

namespace Cc.Bench.Ttrpc;

/// <summary>
/// A ttrpc server in a child process (the Go peer or our <c>ttrpc-server</c>): started, awaited until
/// it prints "READY", measured through /proc, and stopped by closing its standard input (both
/// servers exit on EOF), with a kill after a bounded wait.
/// </summary>
public sealed class PeerProcess : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(3);
    private readonly Process _process;

    private PeerProcess(Process process) => _process = process;

    public int Pid => _process.Id;

    public static async Task<PeerProcess> StartAsync(string fileName, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = false,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {fileName}");
        var peer = new PeerProcess(process);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(ReadyTimeout);
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token).ConfigureAwait(false);
            if (line is null || !line.StartsWith("READY ", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"{fileName} did not get ready: printed \"{line}\"");
            }

            return peer;
        }
        catch
        {
            await peer.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Resident set size now, in bytes, from VmRSS in /proc/&lt;pid&gt;/status.</summary>
    public long ReadRssBytes() => ReadRssBytes(_process.Id);

    public static long ReadRssBytes(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException($"no VmRSS in /proc/{pid}/status");
    }

    /// <summary>SIGKILL and wait (bounded): the abrupt end of a peer, for connection-loss tests.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        using var timeout = new CancellationTokenSource(ExitTimeout);
        await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_process.HasExited)
        {
            _process.Dispose();
            return;
        }

        try
        {
            _process.StandardInput.Close();
            using var timeout = new CancellationTokenSource(ExitTimeout);
            await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
        {
            _process.Kill(entireProcessTree: true);
        }
        finally
        {
            _process.Dispose();
        }
    }
}

/// <summary>Samples a process's RSS every 20 ms while running and keeps the largest value (a run
/// shorter than the period is still seen: <see cref="TakeMaxBytes"/> reads once more).</summary>
public sealed class RssSampler : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly int _pid;
    private long _max; // written by the sampling loop (compare-and-swap up) and TakeMaxBytes (reset)

    public RssSampler(int pid)
    {
        _pid = pid;
        _max = PeerProcess.ReadRssBytes(pid);
        _loop = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
            try
            {
                while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
                {
                    var rss = PeerProcess.ReadRssBytes(pid);
                    long seen;
                    while (rss > (seen = Volatile.Read(ref _max)) && Interlocked.CompareExchange(ref _max, rss, seen) != seen)
                    {
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
                // Stopped, or the process is gone: the maximum so far stands.
            }
        });
    }

    /// <summary>The maximum since the last call (or the start), then starts over from the current RSS.</summary>
    public long TakeMaxBytes()
    {
        var now = PeerProcess.ReadRssBytes(_pid);
        return Math.Max(Interlocked.Exchange(ref _max, now), now);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
