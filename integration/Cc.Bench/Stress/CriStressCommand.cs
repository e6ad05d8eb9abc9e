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
/// after the last, and every 50th between (memory flat);</item>
/// <item>the leak check of every pod and of the instance, before the instance stops (<see cref="CriStressLeftovers"/>).</item>
/// </list>
/// A failed cycle or a leftover is counted and reported (the run then fails). Prints one markdown table; <c>--out FILE</c>
/// also writes it there. hack/stress.sh runs hack/check-leftovers.sh after, once the instance is stopped.
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
        var pods = new List<StressPod>();
        var qemuBefore = CriStressLeftovers.QemuPids();

        await using (var containerd = await CriContainerd.StartAsync(version, cancellationToken).ConfigureAwait(false))
        {
            // Sequential cycles.
            var clock = Stopwatch.StartNew();
            var failed = 0;
            for (var i = 1; i <= cycles; i++)
            {
                if (await CycleAsync(containerd, handler, $"stress-{++serial}", pods, cancellationToken).ConfigureAwait(false) is { } error)
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
                .Select(_ => CycleAsync(containerd, handler, $"stress-{Interlocked.Increment(ref serial)}", pods, cancellationToken)))
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
            var (rss, error2) = await RssOverExecsAsync(containerd, handler, execs, pods, cancellationToken).ConfigureAwait(false);
            if (error2 is not null)
            {
                failures++;
                Progress($"long-lived pod failed: {error2}");
            }
            rows.Add(string.Create(CultureInfo.InvariantCulture,
                $"| 1 pod, {execs} ExecSync | {(error2 is null ? "ok" : "failed")} | {clock.Elapsed.TotalSeconds:F0} s | shim VmRSS {Mib(rss.Start)} MiB after the first exec, {Mib(rss.End)} MiB after the last; {Curve(rss.Curve)} |"));

            // What the pods left, while the instance still runs (its stop.sh would remove it).
            List<StressPod> all;
            lock (pods)
            {
                all = [.. pods];
            }
            var (left, took) = await CriStressLeftovers.FindAsync(containerd, all, qemuBefore).ConfigureAwait(false);
            foreach (var line in left)
            {
                Progress($"leftover: {line}");
            }
            failures += left.Count;
            rows.Add(string.Create(CultureInfo.InvariantCulture,
                $"| leak check before stop, {all.Count} pods and the instance | {(left.Count == 0 ? "none left" : $"{left.Count} left")} | {took.TotalSeconds:F0} s | processes, mounts, netns, veths, taps, tc filters, shim sockets, run directories, CRI state, bundles, FIFOs, sockets |"));
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
    private static async Task<string?> CycleAsync(CriContainerd containerd, string handler, string name, List<StressPod> pods,
        CancellationToken cancellationToken)
    {
        CriPod? pod = null;
        try
        {
            pod = await CriPod.RunAsync(containerd, handler, name, cancellationToken).ConfigureAwait(false);
            var stressPod = Record(containerd, pod, pods);
            var id = await pod.CreateContainerAsync("c", 0, Script, cancellationToken).ConfigureAwait(false);
            stressPod.AddContainer(id);
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

    private static async Task<((long Start, long End, List<(int Exec, long KiB)> Curve) Rss, string? Error)> RssOverExecsAsync(
        CriContainerd containerd, string handler, int execs, List<StressPod> pods, CancellationToken cancellationToken)
    {
        long start = 0, end = 0;
        var curve = new List<(int Exec, long KiB)>();
        try
        {
            await using var pod = await CriPod.RunAsync(containerd, handler, "stress-rss", cancellationToken).ConfigureAwait(false);
            var stressPod = Record(containerd, pod, pods);
            var id = await pod.CreateContainerAsync("c", 0, Script, cancellationToken).ConfigureAwait(false);
            stressPod.AddContainer(id);
            await pod.StartContainerAsync(id, cancellationToken).ConfigureAwait(false);
            var shim = ShimPidOf(pod.Id) ?? throw new InvalidOperationException($"no shim process names pod {pod.Id}");
            for (var i = 1; i <= execs; i++)
            {
                var exec = await pod.ExecSyncAsync(id, cancellationToken, "echo", $"exec {i}").ConfigureAwait(false);
                if (exec.ExitCode != 0)
                {
                    return ((start, end, curve), $"exec {i} exited {exec.ExitCode}");
                }
                if (i == 1)
                {
                    start = RssKiB(shim);
                    curve.Add((i, start));
                }
                else if (i % 50 == 0 && i < execs)
                {
                    curve.Add((i, RssKiB(shim)));
                    Progress($"exec {i}/{execs}: shim VmRSS {curve[^1].KiB} KiB");
                }
            }
            end = RssKiB(shim);
            curve.Add((execs, end));
            return ((start, end, curve), null);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return ((start, end, curve), e.Message.Split('\n')[0]);
        }
    }

    /// <summary>
    /// Appends the pod to the leak check's ledger (CC_TEST_LEDGER, hack/check-leftovers.sh): a pod's shim socket is named
    /// for its sandbox id, which every container of the pod shares.
    /// </summary>
    private static StressPod Record(CriContainerd containerd, CriPod pod, List<StressPod> pods)
    {
        var stressPod = new StressPod(pod.Id, pod.NetworkNamespace);
        lock (pods)
        {
            pods.Add(stressPod);
        }
        if (Environment.GetEnvironmentVariable("CC_TEST_LEDGER") is { Length: > 0 } ledger)
        {
            lock (s_ledgerLock)
            {
                File.AppendAllText(ledger, $"{containerd.Address}/{CriContainerd.Namespace}/{pod.Id}\n");
            }
        }
        return stressPod;
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

    private static string Mib(long kib) => (kib / 1024.0).ToString("F1", CultureInfo.InvariantCulture);

    /// <summary>"VmRSS by exec: 1: 18.3, 50: 20.5, …, 200: 20.6 MiB".</summary>
    private static string Curve(List<(int Exec, long KiB)> curve) =>
        curve.Count == 0 ? "no curve" : $"VmRSS by exec: {string.Join(", ", curve.Select(p => $"{p.Exec}: {Mib(p.KiB)}"))} MiB";

    private static string Row(string what, int passed, int total, TimeSpan wall) =>
        string.Create(CultureInfo.InvariantCulture, $"| {what} | {passed}/{total} | {wall.TotalSeconds:F0} s | |");

    private static void Progress(string message) => Console.Error.WriteLine($"cri-stress: {message}");

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
}
