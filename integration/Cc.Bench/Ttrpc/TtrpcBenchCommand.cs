using System.Diagnostics.CodeAnalysis;
using Cc.Ttrpc.Transports;

namespace Cc.Bench.Ttrpc;

/// <summary>
/// <c>Cc.Bench ttrpc</c>: the same Echo workloads against the Go reference (ttrpc 1.1 and 1.2, Go client
/// → Go server) and ours (our client → our server), each server in its own process, in one run; prints
/// a markdown table with ratios. Runs are interleaved (for each repeat, each workload, each target) so
/// that a noisy neighbour on the shared machine hurts every column alike; the table shows medians.
/// Options: --go-peers DIR (build/ttrpc-peer), --duration S (1), --warmup S (0.3), --repeat N (5),
/// --workloads rtt,load,bulk64k,bulk1m (all), --cross (adds our client → the Go 1.1 server, to tell a
/// client-side gap from a server-side one), --socket-connection (adds our client and server over the
/// SocketConnection transport, Pipelines.Sockets.Unofficial, next to the default stream transport), --our-server PATH (our
/// server is that dedicated peer executable, integration/Cc.TtrpcPeer; the bench's own ttrpc-server becomes the extra
/// column "ours, in Cc.Bench"),
/// --baseline-server PATH (adds our client → the ttrpc-server of another Cc.Bench binary, e.g. one built from
/// an earlier commit: before/after in one run), --baseline-peer PATH (the same with another Cc.TtrpcPeer binary, e.g. one
/// built with other compiler options), --out FILE (also write the table there).
/// </summary>
public static class TtrpcBenchCommand
{
    public static BenchCommand Command { get; } = new("ttrpc", "Go ttrpc vs ours: latency, calls/s, MiB/s, server RSS", RunAsync);

    private static readonly EchoWorkload[] Workloads =
    [
        new("rtt", "rtt", "1 caller, 16 B", 1, 16),
        new("load", "load", "16 callers on one connection, 16 B", 16, 16),
        new("bulk64k", "bulk", "1 caller, 64 KiB", 1, 64 << 10),
        new("bulk1m", "bulk", "1 caller, 1 MiB", 1, 1 << 20),
    ];

    private static async Task<int> RunAsync(BenchArgs args, CancellationToken cancellationToken)
    {
        var peers = args.Get("go-peers", "build/ttrpc-peer");
        var duration = args.GetSeconds("duration", 1.0);
        var warmup = args.GetSeconds("warmup", 0.3);
        var repeat = args.GetInt("repeat", 5);
        var workloads = args.Get("workloads") is { } keys
            ? keys.Split(',').Select(k => Workloads.FirstOrDefault(w => w.Key == k) ?? throw new ArgumentException($"unknown workload \"{k}\"")).ToArray()
            : Workloads;
        var socketDir = Directory.CreateTempSubdirectory("cc-bench-ttrpc-");
        var targets = new List<IBenchTarget>();
        var samplers = new List<RssSampler>();
        try
        {
            foreach (var version in (string[])["1.1", "1.2"])
            {
                var peer = Path.Combine(peers, $"peer-v{version}");
                if (!File.Exists(peer))
                {
                    throw new ArgumentException($"{peer} is missing: run hack/build-ttrpc-peer.sh");
                }

                targets.Add(await GoTarget.StartAsync($"Go {version}", peer, $"unix://{socketDir.FullName}/go-{version}.sock", cancellationToken).ConfigureAwait(false));
            }

            // "ours" is the dedicated peer when there is one (the Go peer is a small ttrpc-only binary too); the same
            // server inside the whole bench executable is then the extra column that shows what the executable costs.
            if (args.Get("our-server") is { } ourServer)
            {
                targets.Add(await OurTarget.StartPeerAsync(BenchReport.Ours, $"unix://{socketDir.FullName}/ours.sock", ourServer, cancellationToken).ConfigureAwait(false));
                targets.Add(await OurTarget.StartAsync(BenchReport.OursInBench, $"unix://{socketDir.FullName}/ours-bench.sock", null, null, cancellationToken)
                    .ConfigureAwait(false));
            }
            else
            {
                targets.Add(await OurTarget.StartAsync(BenchReport.Ours, $"unix://{socketDir.FullName}/ours.sock", null, null, cancellationToken).ConfigureAwait(false));
            }

            if (args.Get("socket-connection") is not null)
            {
                targets.Add(await OurTarget.StartAsync(BenchReport.OursSocketConnection, $"unix://{socketDir.FullName}/ours-sc.sock",
                    SocketConnectionTransport.Create, null, cancellationToken).ConfigureAwait(false));
            }

            if (args.Get("baseline-server") is { } baseline)
            {
                targets.Add(await OurTarget.StartAsync("our client → baseline server", $"unix://{socketDir.FullName}/baseline.sock",
                    null, baseline, cancellationToken).ConfigureAwait(false));
            }

            if (args.Get("baseline-peer") is { } baselinePeer)
            {
                targets.Add(await OurTarget.StartPeerAsync("our client → baseline peer", $"unix://{socketDir.FullName}/baseline-peer.sock",
                    baselinePeer, cancellationToken).ConfigureAwait(false));
            }

            if (args.Get("cross") is not null)
            {
                targets.Add(OurTarget.Against(targets[0], $"unix://{socketDir.FullName}/go-1.1.sock"));
            }

            // Idle: started and settled, no connection yet.
            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
            var report = new BenchReport(workloads, targets.Select(t => t.Label).ToArray());
            foreach (var target in targets)
            {
                report.IdleRss[target.Label] = target.Server.ReadRssBytes();
                samplers.Add(new RssSampler(target.Server.Pid));
            }

            for (var r = 0; r < repeat; r++)
            {
                foreach (var workload in workloads)
                {
                    foreach (var target in targets)
                    {
                        var sampler = samplers[targets.IndexOf(target)];
                        sampler.TakeMaxBytes();
                        var sample = await target.RunAsync(workload, warmup, duration, cancellationToken).ConfigureAwait(false);
                        sample = sample with { ServerRssBytes = sampler.TakeMaxBytes() };
                        report.Add(target.Label, workload, sample);
                        await Console.Error.WriteLineAsync($"ttrpc bench: {target.Label,-6} {workload.Title,-36} {sample}").ConfigureAwait(false);
                    }
                }
            }

            var table = report.Render(Describe(duration, warmup, repeat, dedicatedPeer: args.Get("our-server") is not null));
            Console.Out.Write(table);
            if (args.Get("out") is { } outFile)
            {
                await File.WriteAllTextAsync(outFile, table, cancellationToken).ConfigureAwait(false);
            }

            return 0;
        }
        finally
        {
            foreach (var sampler in samplers)
            {
                await sampler.DisposeAsync().ConfigureAwait(false);
            }

            foreach (var target in targets)
            {
                await target.DisposeAsync().ConfigureAwait(false);
            }

            socketDir.Delete(recursive: true);
        }
    }

    /// <summary>RuntimeFeature.IsDynamicCodeSupported reads false under JIT too once PublishAot is set (the
    /// build emulates AOT), so ask whether the core library came from an IL file: none exists under NativeAOT.</summary>
    [UnconditionalSuppressMessage("SingleFile", "IL3000", Justification = "An empty Location is the very answer sought.")]
    private static bool IsJit() => typeof(object).Assembly.Location.Length > 0;

    private static string Describe(TimeSpan duration, TimeSpan warmup, int repeat, bool dedicatedPeer)
    {
        var flavour = IsJit() ? "JIT (Release build)" : "NativeAOT";
#if DEBUG
        flavour = "JIT (Debug build: not representative)";
#endif
        return $"Ours: {flavour}, .NET {Environment.Version}. Go: the reference peer (hack/ttrpc-peer) built with Go 1.19 "
            + $"against ttrpc 1.1.1 and Go 1.24 against ttrpc 1.2.4. Unix socket; every server in its own process. "
            + $"Median of {repeat} runs of {duration.TotalSeconds:0.##} s (after {warmup.TotalSeconds:0.##} s warm-up) per cell. "
            + (dedicatedPeer
                ? "Our server: integration/Cc.TtrpcPeer (Cc.Ttrpc and the Echo service only, the shipped executables' NativeAOT "
                    + "and GC settings); \"ours, in Cc.Bench\": the same server inside the whole bench executable. "
                : "Our server: Cc.Bench ttrpc-server (inside the whole bench executable). ")
            + $"Ratio = ours ÷ Go.";
    }
}
