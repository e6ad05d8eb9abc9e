using System.Globalization;
using System.Text;

namespace Cc.Bench.Ttrpc;

/// <summary>Collects the samples of every (target, workload) and renders the side-by-side table: the
/// last column(s) are ours ÷ each Go version, marked better or worse by the metric's direction.</summary>
public sealed class BenchReport(IReadOnlyList<EchoWorkload> workloads, IReadOnlyList<string> targets)
{
    /// <summary>The label of our client and server: the dedicated peer with --our-server, else the bench's ttrpc-server.</summary>
    public const string Ours = "ours";

    /// <summary>The label of the bench's own ttrpc-server when "ours" is the dedicated peer: the same server code inside
    /// the whole bench executable.</summary>
    public const string OursInBench = "ours, in Cc.Bench";

    /// <summary>The label of our client and server over the SocketConnection transport (--socket-connection).</summary>
    public const string OursSocketConnection = "ours, SocketConnection";
    private readonly Dictionary<(string Target, EchoWorkload Workload), List<BenchSample>> _samples = [];

    public Dictionary<string, long> IdleRss { get; } = [];

    public void Add(string target, EchoWorkload workload, BenchSample sample)
    {
        if (!_samples.TryGetValue((target, workload), out var list))
        {
            _samples[(target, workload)] = list = [];
        }

        list.Add(sample);
    }

    public string Render(string description)
    {
        var rows = new List<(string Name, bool HigherIsBetter, Func<string, double> Value, string Format)>();
        foreach (var w in workloads)
        {
            if (w.IsBulk)
            {
                rows.Add(($"{w.Title}: MiB/s each way", true, t => Median(t, w, s => s.MiBPerSec), "0.0"));
                continue;
            }

            if (w.Concurrency == 1)
            {
                rows.Add(($"{w.Title}: round trip p50 (µs)", false, t => Median(t, w, s => s.P50Micros), "0.0"));
                rows.Add(($"{w.Title}: round trip p99 (µs)", false, t => Median(t, w, s => s.P99Micros), "0.0"));
            }
            else
            {
                rows.Add(($"{w.Title}: p50 (µs)", false, t => Median(t, w, s => s.P50Micros), "0.0"));
            }

            rows.Add(($"{w.Title}: calls/s", true, t => Median(t, w, s => s.CallsPerSec), "#,0"));
        }

        rows.Add(("server RSS idle (MiB)", false, t => IdleRss[t] / 1048576.0, "0.0"));
        foreach (var w in workloads)
        {
            rows.Add(($"server RSS during {w.Title}, max (MiB)", false, t => _samples[(t, w)].Max(s => s.ServerRssBytes) / 1048576.0, "0.0"));
        }

        // Ratios are ours ÷ each Go pair; cross pairs (--cross) are shown but not compared. With --socket-connection
        // one more column compares our two socket transports: SocketConnection ÷ the stream transport.
        var references = targets.Where(t => t.StartsWith("Go ", StringComparison.Ordinal)).ToArray();
        // SocketConnection runs inside the bench executable: compare it with our stream transport in that same executable.
        bool transports = targets.Contains(OursSocketConnection);
        var transportBaseline = targets.Contains(OursInBench) ? OursInBench : Ours;
        var sb = new StringBuilder();
        sb.Append("| Workload | ").AppendJoin(" | ", targets);
        foreach (var r in references)
        {
            sb.Append(" | ours ÷ ").Append(r);
        }

        if (transports)
        {
            sb.Append(" | SocketConnection ÷ ").Append(transportBaseline);
        }

        int columns = targets.Count + references.Length + (transports ? 1 : 0);
        sb.Append(" |\n|---|").Append(string.Concat(Enumerable.Repeat("---:|", columns))).Append('\n');
        foreach (var (name, higherIsBetter, value, format) in rows)
        {
            sb.Append("| ").Append(name);
            foreach (var t in targets)
            {
                sb.Append(" | ").Append(value(t).ToString(format, CultureInfo.InvariantCulture));
            }

            var ours = value(Ours);
            foreach (var r in references)
            {
                AppendRatio(sb, ours, value(r), higherIsBetter);
            }

            if (transports)
            {
                AppendRatio(sb, value(OursSocketConnection), value(transportBaseline), higherIsBetter);
            }

            sb.Append(" |\n");
        }

        sb.Append('\n').Append(description).Append(" ✓ = ours as good or better, ✗ = ours worse.\n");
        return sb.ToString();
    }

    private static void AppendRatio(StringBuilder sb, double value, double reference, bool higherIsBetter)
    {
        var ratio = value / reference;
        var better = higherIsBetter ? ratio >= 1 : ratio <= 1;
        sb.Append(" | ").Append(ratio.ToString("0.00", CultureInfo.InvariantCulture)).Append(better ? " ✓" : " ✗");
    }

    private double Median(string target, EchoWorkload workload, Func<BenchSample, double> metric)
    {
        var values = _samples[(target, workload)].Select(metric).Order().ToArray();
        return values.Length % 2 == 1 ? values[values.Length / 2] : (values[(values.Length / 2) - 1] + values[values.Length / 2]) / 2;
    }
}
