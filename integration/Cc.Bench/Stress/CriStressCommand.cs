using System.Diagnostics;
using System.Globalization;
using System.Text;
using Cc.Integration.Cri.Harness;

namespace Cc.Bench.Stress;

/// <summary>
/// <c>Cc.Bench cri-stress</c>, the CRI half of <c>make stress</c> (hack/stress.sh): on one private CRI containerd
/// (<c>hack/containerd/start.sh --cri</c>), handler <c>cc</c>:
/// <list type="number">
/// <item><c>--cycles</c> N (100) pods one after another, each RunPodSandbox, CreateContainer, StartContainer, one
/// ExecSync, StopPodSandbox, RemovePodSandbox;</item>
/// <item><c>--pods</c> N (8) pods at once, each the same cycle;</item>
/// <item>one long-lived pod serving <c>--execs</c> N (200) ExecSyncs: the shim's VmRSS after the first exec and
/// after the last (memory flat).</item>
/// </list>
/// A failed cycle is counted and reported (the run then fails). Prints one markdown table; <c>--out FILE</c> also
/// writes it there. The leak check runs after, in hack/stress.sh, once the instance is stopped.
/// </summary>
public static class CriStressCommand
{
    public static BenchCommand Command { get; } = new("cri-stress",
        "CRI stress: N sequential pod cycles, N pods at once, shim RSS over N execs (make stress)", RunAsync);

    private const string Script = "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done";

    private static async Task<int> RunAsync(BenchArgs args, CancellationToken cancellationToken)
    {
        var cycles = args.GetInt("cycles", 100);
        var parallel = args.GetInt("pods", 8);
        var execs = args.GetInt("execs", 200);
        var handler = args.Get("handler", "cc");
        var version = args.Get("containerd", "1.7");
        var rows = new List<string>();
        var failures = 0;
        var serial = 0;

        await using (var containerd = await CriContainerd.StartAsync(version, cancellationToken).ConfigureAwait(false))
        {
            // Sequential cycles.
            var clock = Stopwatch.StartNew();
            var failed = 0;
            for (var i = 1; i <= cycles; i++)
            {
                if (await CycleAsync(containerd, handler, $"stress-{++serial}", cancellationToken).ConfigureAwait(false) is { } error)
                {
                    failed++;
                    Progress($"cycle {i}/{cycles} failed: {error}");
                }
                else if (i % 10 == 0)
                {
                    Progress($"cycle {i}/{cycles} ({clock.Elapsed.TotalSeconds:F0} s)");
                }
            }
            failures += failed;
            rows.Add(Row($"{cycles} pod cycles, one after another", cycles - failed, cycles, clock.Elapsed));

            // Pods at once.
            clock.Restart();
            var results = await Task.WhenAll(Enumerable.Range(0, parallel)
                .Select(_ => CycleAsync(containerd, handler, $"stress-{Interlocked.Increment(ref serial)}", cancellationToken)))
                .ConfigureAwait(false);
            foreach (var error in results.OfType<string>())
            {
                Progress($"parallel pod failed: {error}");
            }
            var parallelFailed = results.Count(r => r is not null);
            failures += parallelFailed;
            rows.Add(Row($"{parallel} pod cycles at once", parallel - parallelFailed, parallel, clock.Elapsed));

            // One pod, many execs: the shim's memory.
            clock.Restart();
            var (rss, error2) = await RssOverExecsAsync(containerd, handler, execs, cancellationToken).ConfigureAwait(false);
            if (error2 is not null)
            {
                failures++;
                Progress($"long-lived pod failed: {error2}");
            }
            rows.Add(string.Create(CultureInfo.InvariantCulture,
                $"| 1 pod, {execs} ExecSync | {(error2 is null ? "ok" : "failed")} | {clock.Elapsed.TotalSeconds:F0} s | shim VmRSS {rss.Start / 1024.0:F1} MiB after the first exec, {rss.End / 1024.0:F1} MiB after the last |"));
        }

        var table = new StringBuilder()
            .AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"### make stress, CRI (containerd {version}, handler {handler}), {DateTime.UtcNow:yyyy-MM-dd}, {Environment.ProcessorCount} cores, load average {LoadAverage()}"))
            .AppendLine()
            .AppendLine("| Run | Passed | Wall time | Notes |")
            .AppendLine("|---|---|---|---|");
        foreach (var row in rows)
        {
            table.AppendLine(row);
        }
        await Console.Out.WriteLineAsync(table.ToString()).ConfigureAwait(false);
        if (args.Get("out") is { } outPath)
        {
            await File.WriteAllTextAsync(outPath, table.ToString(), cancellationToken).ConfigureAwait(false);
        }
        return failures == 0 ? 0 : 1;
    }

    /// <summary>One pod's whole life as kubelet drives it; returns the failure's first line, or null.</summary>
    private static async Task<string?> CycleAsync(CriContainerd containerd, string handler, string name, CancellationToken cancellationToken)
    {
        CriPod? pod = null;
        try
        {
            pod = await CriPod.RunAsync(containerd, handler, name, cancellationToken).ConfigureAwait(false);
            Record(containerd, pod);
            var id = await pod.CreateContainerAsync("c", 0, Script, cancellationToken).ConfigureAwait(false);
            await pod.StartContainerAsync(id, cancellationToken).ConfigureAwait(false);
            var exec = await pod.ExecSyncAsync(id, cancellationToken, "echo", name).ConfigureAwait(false);
            if (exec.ExitCode != 0 || exec.Stdout.ToStringUtf8().Trim() != name)
            {
                return $"exec answered {exec.ExitCode} \"{exec.Stdout.ToStringUtf8().Trim()}\"";
            }
            await pod.StopAsync(cancellationToken).ConfigureAwait(false);
            await pod.RemoveAsync(cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return e.Message.Split('\n')[0];
        }
        finally
        {
            if (pod is not null)
            {
                await pod.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task<((long Start, long End) Rss, string? Error)> RssOverExecsAsync(CriContainerd containerd,
        string handler, int execs, CancellationToken cancellationToken)
    {
        long start = 0, end = 0;
        try
        {
            await using var pod = await CriPod.RunAsync(containerd, handler, "stress-rss", cancellationToken).ConfigureAwait(false);
            Record(containerd, pod);
            var id = await pod.CreateContainerAsync("c", 0, Script, cancellationToken).ConfigureAwait(false);
            await pod.StartContainerAsync(id, cancellationToken).ConfigureAwait(false);
            var shim = ShimPidOf(pod.Id) ?? throw new InvalidOperationException($"no shim process names pod {pod.Id}");
            for (var i = 1; i <= execs; i++)
            {
                var exec = await pod.ExecSyncAsync(id, cancellationToken, "echo", $"exec {i}").ConfigureAwait(false);
                if (exec.ExitCode != 0)
                {
                    return ((start, end), $"exec {i} exited {exec.ExitCode}");
                }
                if (i == 1)
                {
                    start = RssKiB(shim);
                }
                if (i % 50 == 0)
                {
                    Progress($"exec {i}/{execs}: shim VmRSS {RssKiB(shim)} KiB");
                }
            }
            end = RssKiB(shim);
            return ((start, end), null);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return ((start, end), e.Message.Split('\n')[0]);
        }
    }

    /// <summary>
    /// Appends the pod to the leak check's ledger (CC_TEST_LEDGER, hack/check-leftovers.sh): a pod's shim socket is named
    /// for its sandbox id, which every container of the pod shares.
    /// </summary>
    private static void Record(CriContainerd containerd, CriPod pod)
    {
        if (Environment.GetEnvironmentVariable("CC_TEST_LEDGER") is { Length: > 0 } ledger)
        {
            lock (s_ledgerLock)
            {
                File.AppendAllText(ledger, $"{containerd.Address}/{CriContainerd.Namespace}/{pod.Id}\n");
            }
        }
    }

    private static readonly Lock s_ledgerLock = new();

    /// <summary>The shim daemon serving <paramref name="sandboxId"/>: the process whose argv names it with <c>-id</c>.</summary>
    private static int? ShimPidOf(string sandboxId)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(dir);
            if (!char.IsAsciiDigit(name[0]))
            {
                continue;
            }
            try
            {
                var argv = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                if (argv[0].EndsWith("containerd-shim-cc-v2", StringComparison.Ordinal)
                    && argv.AsSpan().IndexOf("-id") is var at and >= 0 && at + 1 < argv.Length && argv[at + 1] == sandboxId)
                {
                    return int.Parse(name, CultureInfo.InvariantCulture);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // exited while we looked
            }
        }
        return null;
    }

    private static long RssKiB(int pid) =>
        File.ReadLines($"/proc/{pid}/status").Where(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))
            .Select(l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture))
            .First();

    private static string Row(string what, int passed, int total, TimeSpan wall) =>
        string.Create(CultureInfo.InvariantCulture, $"| {what} | {passed}/{total} | {wall.TotalSeconds:F0} s | |");

    private static void Progress(string message) => Console.Error.WriteLine($"cri-stress: {message}");

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
}
