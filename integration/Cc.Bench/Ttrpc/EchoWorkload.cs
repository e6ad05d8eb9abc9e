using System.Diagnostics;
using Cc.Ttrpc;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Bench.Ttrpc;

/// <summary>One benchmark workload (<paramref name="Key"/> selects it on the command line): <paramref name="Concurrency"/> callers on one connection calling
/// Echo with <paramref name="Size"/>-byte payloads. The Go peer's names: "rtt" (one caller), "load",
/// "bulk" (reported in MiB/s).</summary>
public sealed record EchoWorkload(string Key, string Name, string Title, int Concurrency, int Size)
{
    public bool IsBulk => Name == "bulk";

    /// <summary>The flags that make the Go peer's client run this same workload.</summary>
    public IEnumerable<string> GoArguments(TimeSpan warmup, TimeSpan duration) =>
    [
        "-workload", Name, "-concurrency", Concurrency.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "-size", Size.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "-warmup", $"{(long)warmup.TotalMilliseconds}ms", "-duration", $"{(long)duration.TotalMilliseconds}ms",
    ];

    /// <summary>
    /// Our client, the Go peer's loop (bench.go runBench): every caller calls back to back until the end;
    /// calls that start after the warm-up are timed. A failed call or a wrong echo aborts the run.
    /// </summary>
    public async Task<BenchSample> RunAsync(TtrpcClient client, TimeSpan warmup, TimeSpan duration, CancellationToken cancellationToken)
    {
        var payload = EchoService.Pattern(Size);
        var request = new BytesValue { Value = ByteString.CopyFrom(payload) };
        var start = Stopwatch.GetTimestamp();
        var measureFrom = start + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
        var end = measureFrom + (long)(duration.TotalSeconds * Stopwatch.Frequency);

        async Task<List<long>> CallerAsync()
        {
            var mine = new List<long>(4096);
            while (true)
            {
                var t0 = Stopwatch.GetTimestamp();
                if (t0 > end)
                {
                    return mine;
                }

                var response = await client.UnaryAsync<BytesValue, BytesValue>(EchoService.Name, "Echo", request, BytesValue.Parser,
                    new CallOptions(CancellationToken: cancellationToken)).ConfigureAwait(false);
                if (!response.Value.Span.SequenceEqual(payload))
                {
                    throw new InvalidOperationException($"echo returned {response.Value.Length} different bytes");
                }

                if (t0 > measureFrom)
                {
                    mine.Add(Stopwatch.GetTimestamp() - t0);
                }
            }
        }

        var callers = new Task<List<long>>[Concurrency];
        for (var i = 0; i < callers.Length; i++)
        {
            callers[i] = Task.Run(CallerAsync, cancellationToken);
        }

        var ticks = (await Task.WhenAll(callers).ConfigureAwait(false)).SelectMany(l => l).Order().ToArray();
        return BenchSample.From(ticks.Select(t => t * 1_000_000.0 / Stopwatch.Frequency).ToArray(), duration, Size);
    }
}

/// <summary>One run's client-side numbers, the fields named as the Go peer's JSON output (bench.go benchResult).</summary>
public sealed record BenchSample(int Calls, double CallsPerSec, double MiBPerSec, double P50Micros, double P99Micros)
{
    /// <summary>The server's largest RSS during this run (filled in by the bench, not the client).</summary>
    public long ServerRssBytes { get; init; }

    /// <summary>From sorted per-call latencies in µs; percentiles are nearest-rank, as in bench.go.</summary>
    public static BenchSample From(double[] sortedMicros, TimeSpan duration, int size)
    {
        var seconds = duration.TotalSeconds;
        return new BenchSample(sortedMicros.Length, sortedMicros.Length / seconds,
            sortedMicros.Length * (double)size / seconds / (1 << 20),
            Percentile(sortedMicros, 0.50), Percentile(sortedMicros, 0.99));
    }

    private static double Percentile(double[] sorted, double p)
    {
        if (sorted.Length == 0)
        {
            return 0;
        }

        var i = Math.Clamp((int)((p * sorted.Length) + 0.5) - 1, 0, sorted.Length - 1);
        return sorted[i];
    }
}
