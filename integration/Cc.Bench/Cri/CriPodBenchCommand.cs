using System.Globalization;
using Cc.Integration.Cri.Harness;

namespace Cc.Bench.Cri;

/// <summary>
/// <c>Cc.Bench cri-pod</c>: pod start as kubelet sees it (RunPodSandbox, PodSandboxStatus, CreateContainer,
/// StartContainer, then the first byte of the container's CRI log), handler <c>cc</c> vs <c>runc</c> on one private
/// CRI containerd (<c>hack/containerd/start.sh --cri</c>), 1 pod alone and 4 pods at once, as ratios. After one
/// warm-up pod per handler (image snapshots, CNI's first bridge), rounds interleave the handlers so a change in
/// the machine's load falls on both. Options: --runs N (3), --pods N (4, the concurrent case), --containerd 1.6|1.7
/// (1.7), --output-timeout S (180), --out FILE (also write the table there).
/// </summary>
public static class CriPodBenchCommand
{
    public static BenchCommand Command { get; } = new("cri-pod", "CRI pod start to first container output, cc vs runc, 1 and N pods at once", RunAsync);

    private static readonly string[] s_handlers = ["runc", "cc"];

    private static async Task<int> RunAsync(BenchArgs args, CancellationToken cancellationToken)
    {
        var runs = args.GetInt("runs", 3);
        var many = args.GetInt("pods", 4);
        var version = args.Get("containerd", "1.7");
        if (runs < 1 || many < 2)
        {
            throw new ArgumentException("--runs must be at least 1 and --pods at least 2");
        }

        var loadBefore = LoadAverage();
        var results = new CriPodBenchReport(s_handlers, many);
        await using (var containerd = await CriContainerd.StartAsync(version, cancellationToken).ConfigureAwait(false))
        {
            var pods = new PodStarts(containerd, args.GetSeconds("output-timeout", 180));
            foreach (var handler in s_handlers)
            {
                Progress($"{handler}: warm-up pod");
                if (await TryAsync(() => pods.RunAsync(handler, 1, cancellationToken), _ => { }).ConfigureAwait(false) is { } error)
                {
                    Progress($"  warm-up failed: {error}");
                }
            }
            for (var round = 1; round <= runs; round++)
            {
                foreach (var count in (int[])[1, many])
                {
                    foreach (var handler in s_handlers)
                    {
                        Progress($"round {round}/{runs}: {handler}, {count} pod(s)");
                        if (await TryAsync(() => pods.RunAsync(handler, count, cancellationToken), r => results.Add(handler, count, r))
                                .ConfigureAwait(false) is { } error)
                        {
                            results.Failed(handler, count);
                            Progress($"  failed: {error}");
                        }
                    }
                }
            }
        }

        var heading = string.Create(CultureInfo.InvariantCulture,
            $"### CRI pod start: `cc` vs `runc` — containerd {version}, {runs} runs each, {DateTime.UtcNow:yyyy-MM-dd}, " +
            $"{Environment.ProcessorCount} cores, load average {loadBefore} → {LoadAverage()} (a shared machine: TCG boot time is CPU time and follows the load)");
        var table = heading + "\n\n" + results.Render();
        await Console.Out.WriteLineAsync(table).ConfigureAwait(false);
        if (args.Get("out") is { } outPath)
        {
            await File.WriteAllTextAsync(outPath, table, cancellationToken).ConfigureAwait(false);
        }
        return results.Complete ? 0 : 1;

        // A failed round is counted and reported, not fatal: one slow boot on a loaded machine must not lose the
        // other rounds. Cancellation ends the whole bench (BenchCli). Returns the failure's first line, or null.
        async Task<string?> TryAsync(Func<Task<PodRound>> round, Action<PodRound> record)
        {
            try
            {
                record(await round().ConfigureAwait(false));
                return null;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                return e.Message.Split('\n')[0];
            }
        }
    }

    private static void Progress(string message) => Console.Error.WriteLine($"cri-pod: {message}");

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
}
