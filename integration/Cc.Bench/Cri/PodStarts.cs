using System.Diagnostics;
using Cc.Integration.Cri.Harness;

namespace Cc.Bench.Cri;

/// <summary>
/// Starts pods through the CRI (Cc.Integration.Cri's <see cref="CriPod"/>: the tier's client and call deadlines) and
/// times them; removes every pod it made and waits until the instance has no shim left, so the next round starts on
/// a machine without the last round's VMs.
/// </summary>
internal sealed class PodStarts(CriContainerd containerd, TimeSpan outputTimeout)
{
    /// <summary>
    /// The container's command: one line at once, then idle until StopPodSandbox. The first byte of its log is what
    /// "started" means to a user (kubectl logs), past every layer: sandbox, shim, VM, agent, crun, the log pipe.
    /// </summary>
    private const string Script = "echo up; trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done";

    private static readonly TimeSpan s_pollInterval = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan s_shimExitTimeout = TimeSpan.FromSeconds(60);
    private int _serial;

    /// <summary>Starts <paramref name="count"/> pods of <paramref name="handler"/> at once; returns when each has output (or throws).</summary>
    public async Task<PodRound> RunAsync(string handler, int count, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var starts = Enumerable.Range(0, count)
            .Select(_ => StartOneAsync(handler, $"bench-{handler}-{Interlocked.Increment(ref _serial)}", clock, cancellationToken))
            .ToArray();
        try
        {
            await Task.WhenAll(starts).ConfigureAwait(false);
            var all = clock.Elapsed.TotalMilliseconds;
            return new PodRound([.. starts.Select(s => s.Result.Sample)], all);
        }
        finally
        {
            // Every pod that got as far as RunPodSandbox goes, whether its round succeeded or not.
            foreach (var start in starts.Where(s => s.IsCompletedSuccessfully))
            {
                await start.Result.Pod.DisposeAsync().ConfigureAwait(false);
            }
            await WaitForNoShimAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<(CriPod Pod, PodStartSample Sample)> StartOneAsync(string handler, string name, Stopwatch clock,
        CancellationToken cancellationToken)
    {
        var sent = clock.Elapsed.TotalMilliseconds;
        var pod = await CriPod.RunAsync(containerd, handler, name, cancellationToken).ConfigureAwait(false);
        try
        {
            var sandbox = clock.Elapsed.TotalMilliseconds;
            var id = await pod.CreateContainerAsync("c", 0, Script, cancellationToken).ConfigureAwait(false);
            await pod.StartContainerAsync(id, cancellationToken).ConfigureAwait(false);
            var started = clock.Elapsed.TotalMilliseconds;
            await FirstByteAsync(pod, cancellationToken).ConfigureAwait(false);
            var firstByte = clock.Elapsed.TotalMilliseconds;
            return (pod, new PodStartSample(sandbox - sent, started - sent, firstByte - sent));
        }
        catch
        {
            await pod.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    // containerd writes the CRI log as the output arrives; polling its length every 10 ms bounds the error of each
    // sample to that (a fraction of a percent of a pod start).
    private async Task FirstByteAsync(CriPod pod, CancellationToken cancellationToken)
    {
        var path = Path.Combine(pod.LogDirectory, "c_0.log");
        var clock = Stopwatch.StartNew();
        while (!(File.Exists(path) && new FileInfo(path).Length > 0))
        {
            if (clock.Elapsed > outputTimeout)
            {
                throw new TimeoutException($"no output in {path} within {outputTimeout.TotalSeconds:F0} s");
            }
            await Task.Delay(s_pollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    // containerd does not wait for a shim to exit after its Shutdown; the shims (and for cc their VMs) of this
    // instance are the processes given its address.
    private async Task WaitForNoShimAsync(CancellationToken cancellationToken)
    {
        var marker = $"-address {containerd.Address} ";
        var clock = Stopwatch.StartNew();
        while (ShimsOf(marker) > 0 && clock.Elapsed < s_shimExitTimeout)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
        }
    }

    private static int ShimsOf(string marker)
    {
        var count = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                if (char.IsAsciiDigit(Path.GetFileName(dir)[0])
                    && File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ').Contains(marker, StringComparison.Ordinal))
                {
                    count++;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // exited while we looked
            }
        }
        return count;
    }
}
