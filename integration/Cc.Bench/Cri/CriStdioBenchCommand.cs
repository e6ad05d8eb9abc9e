using System.Diagnostics;
using System.Globalization;
using Cc.Integration.Cri.Harness;

namespace Cc.Bench.Cri;

/// <summary>
/// <c>Cc.Bench cri-stdio</c>: stdout throughput through the CRI log path, as kubelet gets it: a CRI container writes
/// <c>--mib</c> MiB of zeros to stdout (<c>dd bs=1M</c>), containerd's CRI copies it from the shim's FIFO into the
/// container's log file, and the bench follows that file (<see cref="CriLogReader"/>) from StartContainer until it holds
/// every byte, checking the rebuilt stream's length and SHA-256 (nothing lost, nothing changed, in order). Pod start
/// (for <c>cc</c> the VM's boot) is off the clock: the pod and the container are made first. Not capped by ctr's own
/// FIFO copy (hack/bench/45-stdio-exec.sh's other stdio path). Handlers interleave per round: runc, cc, and with
/// <c>--baseline DIR</c> a handler <c>ccbase</c> running DIR/bin/containerd-shim-cc-v2 with DIR/configuration.toml.
/// Prints one line per run on stdout, for the script's table:
/// <c>&lt;handler&gt; &lt;round&gt; &lt;bytes&gt; &lt;start_ns&gt; &lt;last_ns&gt; &lt;sha256&gt; &lt;runtime_cpu_s&gt; &lt;containerd_cpu_s&gt;</c>,
/// CPU being user + system seconds over the span: the runtime's (its shims and, for ours, QEMU: the guest) and
/// containerd's (which writes the log). Options: --mib N (256), --runs N (2), --containerd 1.6|1.7 (1.6),
/// --timeout S (600, per run), --baseline DIR.
/// </summary>
public static class CriStdioBenchCommand
{
    public static BenchCommand Command { get; } = new("cri-stdio", "stdout MiB through the CRI log file, cc vs runc, nothing lost", RunAsync);

    private const string BaselineHandler = "ccbase";
    private static readonly TimeSpan s_pollInterval = TimeSpan.FromMilliseconds(5);

    private static async Task<int> RunAsync(BenchArgs args, CancellationToken cancellationToken)
    {
        var mib = args.GetInt("mib", 256);
        var runs = args.GetInt("runs", 2);
        var version = args.Get("containerd", "1.6");
        var timeout = args.GetSeconds("timeout", 600);
        var baseline = args.Get("baseline");
        List<string> handlers = ["runc", "cc"];
        string? configure = null;
        if (baseline is not null)
        {
            baseline = Path.GetFullPath(baseline);
            handlers.Add(BaselineHandler);
            // A handler of its own whose runtime_type is the baseline shim's absolute path (containerd 1.6+ runs it as is).
            configure = $"printf '\\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.{BaselineHandler}]\\n" +
                $"  runtime_type = \"{baseline}/bin/containerd-shim-cc-v2\"\\n  privileged_without_host_devices = true\\n" +
                $"[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.{BaselineHandler}.options]\\n" +
                $"  ConfigPath = \"{baseline}/configuration.toml\"\\n' >>\"$CC_CONTAINERD_CONFIG\"";
        }

        var failures = 0;
        await using var containerd = await CriContainerd.StartAsync(version, cancellationToken, configure).ConfigureAwait(false);
        var containerdPid = ContainerdPid(containerd);
        var serial = 0;
        for (var round = 1; round <= runs; round++)
        {
            foreach (var handler in handlers)
            {
                Progress($"round {round}/{runs}: {handler}, {mib} MiB");
                try
                {
                    var line = await RunOneAsync(containerd, containerdPid, handler, $"stdio-{handler}-{++serial}", mib, timeout, cancellationToken)
                        .ConfigureAwait(false);
                    await Console.Out.WriteLineAsync($"{handler} {round} {line}").ConfigureAwait(false);
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                {
                    failures++;
                    Progress($"  failed: {e.Message.Split('\n')[0]}");
                    await Console.Out.WriteLineAsync($"{handler} {round} failed").ConfigureAwait(false);
                }
                await WaitForNoShimAsync(containerd, cancellationToken).ConfigureAwait(false);
            }
        }
        return failures == 0 ? 0 : 1;
    }

    private static async Task<string> RunOneAsync(CriContainerd containerd, int containerdPid, string handler, string name, int mib,
        TimeSpan timeout, CancellationToken cancellationToken)
    {
        var expected = (long)mib * 1024 * 1024;
        await using var pod = await CriPod.RunAsync(containerd, handler, name, cancellationToken).ConfigureAwait(false);
        var id = await pod.CreateContainerAsync("c", 0, $"dd if=/dev/zero bs=1048576 count={mib} 2>/dev/null", cancellationToken)
            .ConfigureAwait(false);
        using var log = new CriLogReader(Path.Combine(pod.LogDirectory, "c_0.log"), "stdout");
        // The pod's processes exist from RunPodSandbox on (runc: its shim; ours: the shim and the VM).
        var runtime = RuntimePids(containerd);
        var runtimeBefore = CpuTicks(runtime);
        var containerdBefore = CpuTicks([containerdPid]);
        var start = Stopwatch.GetTimestamp();
        var startNs = MonotonicNs();
        await pod.StartContainerAsync(id, cancellationToken).ConfigureAwait(false);
        long lastNs = 0;
        while (log.Bytes < expected)
        {
            if (!log.Poll())
            {
                if (Stopwatch.GetElapsedTime(start) > timeout)
                {
                    throw new TimeoutException($"{log.Bytes} of {expected} bytes in the log after {timeout.TotalSeconds:F0} s");
                }
                await Task.Delay(s_pollInterval, cancellationToken).ConfigureAwait(false);
                continue;
            }
            lastNs = MonotonicNs();
        }
        var runtimeCpu = (CpuTicks(runtime) - runtimeBefore) / TicksPerSecond;
        var containerdCpu = (CpuTicks([containerdPid]) - containerdBefore) / TicksPerSecond;
        // More than expected, or a malformed line, shows in the count or the hash: the script counts only exact runs.
        log.Poll();
        if (log.Malformed > 0)
        {
            throw new InvalidDataException($"{log.Malformed} malformed line(s) in the CRI log");
        }
        return string.Create(CultureInfo.InvariantCulture,
            $"{log.Bytes} {startNs} {lastNs} {log.Sha256()} {runtimeCpu:F2} {containerdCpu:F2}");
    }

    // /proc/<pid>/stat counts in USER_HZ, 100 on every Linux architecture the shim ships for.
    private const double TicksPerSecond = 100;

    private static long MonotonicNs() => (long)(Stopwatch.GetTimestamp() * (1e9 / Stopwatch.Frequency));

    private static int ContainerdPid(CriContainerd containerd) =>
        int.Parse(File.ReadLines(Path.Combine(containerd.Directory, "env"))
            .First(l => l.StartsWith("CC_CONTAINERD_PID=", StringComparison.Ordinal))["CC_CONTAINERD_PID=".Length..],
            CultureInfo.InvariantCulture);

    // Every shim of this containerd (given its -address) and every QEMU one of our shims started (it inherits the
    // shim's TTRPC_ADDRESS, which is containerd's address + ".ttrpc").
    private static List<int> RuntimePids(CriContainerd containerd)
    {
        var shim = $"-address {containerd.Address} ";
        var qemu = $"TTRPC_ADDRESS={containerd.Address}.ttrpc";
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ').Contains(shim, StringComparison.Ordinal)
                    || File.ReadAllText(Path.Combine(dir, "environ")).Split('\0').Contains(qemu))
                {
                    pids.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // exited while we looked
            }
        }
        return pids;
    }

    // utime + stime of the processes; both samples are taken while the pod runs (before it is stopped), so each is there.
    private static double CpuTicks(IEnumerable<int> pids)
    {
        long sum = 0;
        foreach (var pid in pids)
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                sum += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException)
            {
            }
        }
        return sum;
    }

    private static async Task WaitForNoShimAsync(CriContainerd containerd, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (RuntimePids(containerd).Count > 0 && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
        }
    }

    private static void Progress(string message) => Console.Error.WriteLine($"cri-stdio: {message}");
}
