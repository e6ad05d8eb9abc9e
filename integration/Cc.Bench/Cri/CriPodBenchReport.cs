using System.Globalization;
using System.Text;

namespace Cc.Bench.Cri;

/// <summary>
/// The markdown table of <c>Cc.Bench cri-pod</c>: per case (1 pod; each of N pods at once; all N at once) the median
/// and range of each handler, and cc's median over runc's.
/// </summary>
internal sealed class CriPodBenchReport(IReadOnlyList<string> handlers, int many)
{
    private readonly Dictionary<(string Handler, int Pods), List<PodRound>> _rounds = [];
    private readonly Dictionary<(string Handler, int Pods), int> _failed = [];

    /// <summary>Every case of every handler has at least one round.</summary>
    public bool Complete => handlers.All(h => Rounds(h, 1).Count > 0 && Rounds(h, many).Count > 0);

    public void Add(string handler, int pods, PodRound round) => Rounds(handler, pods).Add(round);

    public void Failed(string handler, int pods) => _failed[(handler, pods)] = _failed.GetValueOrDefault((handler, pods)) + 1;

    public string Render()
    {
        var table = new StringBuilder();
        table.Append("| Pod start: RunPodSandbox → first byte of the container's log |");
        foreach (var h in handlers)
        {
            table.Append(CultureInfo.InvariantCulture, $" {h}: median (range) |");
        }
        table.AppendLine(" cc ÷ runc | failed rounds (runc, cc) |");
        table.AppendLine("|---|" + string.Concat(handlers.Select(_ => "---:|")) + "---:|---:|");
        Row(table, "1 pod", 1, r => r.Pods.Select(p => p.FirstByteMs));
        Row(table, $"{many} pods at once: each pod", many, r => r.Pods.Select(p => p.FirstByteMs));
        Row(table, $"{many} pods at once: until the last pod's first byte", many, r => [r.AllMs]);
        Row(table, "1 pod: of which RunPodSandbox (+ PodSandboxStatus)", 1, r => r.Pods.Select(p => p.SandboxMs));
        Row(table, "1 pod: of which until StartContainer answered", 1, r => r.Pods.Select(p => p.StartedMs));
        return table.ToString();
    }

    private void Row(StringBuilder table, string label, int pods, Func<PodRound, IEnumerable<double>> select)
    {
        table.Append(CultureInfo.InvariantCulture, $"| {label} |");
        var medians = new Dictionary<string, double?>(StringComparer.Ordinal);
        foreach (var h in handlers)
        {
            var sorted = Rounds(h, pods).SelectMany(select).Order().ToArray();
            medians[h] = Median(sorted);
            table.Append(medians[h] is { } m
                ? string.Create(CultureInfo.InvariantCulture, $" {m / 1000:0.00} s ({sorted[0] / 1000:0.00}–{sorted[^1] / 1000:0.00}) |")
                : " - |");
        }
        var ratio = medians.GetValueOrDefault("cc") is { } cc && medians.GetValueOrDefault("runc") is { } runc and > 0
            ? (cc / runc).ToString("0.0", CultureInfo.InvariantCulture) + "×"
            : "-";
        table.AppendLine(CultureInfo.InvariantCulture,
            $" {ratio} | {string.Join(", ", handlers.Select(h => _failed.GetValueOrDefault((h, pods))))} |");
    }

    private List<PodRound> Rounds(string handler, int pods)
    {
        if (!_rounds.TryGetValue((handler, pods), out var list))
        {
            list = [];
            _rounds[(handler, pods)] = list;
        }
        return list;
    }

    private static double? Median(double[] sorted) =>
        sorted.Length == 0 ? null
        : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
        : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
}
