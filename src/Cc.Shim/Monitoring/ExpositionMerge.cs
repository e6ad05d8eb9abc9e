using System.Text;

namespace Cc.Shim.Monitoring;

/// <summary>
/// Merges Prometheus text expositions of several shims into one. The format allows a metric family's <c># HELP</c> and
/// <c># TYPE</c> once, with all its samples after them, so the samples of each family are gathered under the first
/// exposition's HELP/TYPE, families in order of first appearance. The series do not clash because every shim labels
/// its own with <c>namespace</c> and <c>sandbox</c> (<see cref="MetricsExporter"/>); nothing is relabelled here.
/// </summary>
public static class ExpositionMerge
{
    public static string Merge(IEnumerable<string> expositions)
    {
        var families = new Dictionary<string, Family>(StringComparer.Ordinal);
        var order = new List<Family>();
        foreach (var exposition in expositions)
        {
            Family? current = null;
            foreach (var raw in exposition.Split('\n'))
            {
                var line = raw.TrimEnd('\r');
                if (line.Length == 0)
                {
                    continue;
                }
                if (line.StartsWith("# HELP ", StringComparison.Ordinal) || line.StartsWith("# TYPE ", StringComparison.Ordinal))
                {
                    current = Get(NameAfterKeyword(line));
                    if (line[2] == 'H')
                    {
                        current.Help ??= line;
                    }
                    else
                    {
                        current.Type ??= line;
                    }
                    continue;
                }
                if (line[0] == '#')
                {
                    continue;
                }
                var name = SampleName(line);
                // A histogram's or summary's samples (_bucket, _sum, _count) belong to the family declared above them.
                var family = current is not null && BelongsTo(name, current.Name) ? current : Get(name);
                family.Samples.Add(line);
            }
        }

        var text = new StringBuilder();
        foreach (var family in order)
        {
            if (family.Help is { } help)
            {
                text.Append(help).Append('\n');
            }
            if (family.Type is { } type)
            {
                text.Append(type).Append('\n');
            }
            foreach (var sample in family.Samples)
            {
                text.Append(sample).Append('\n');
            }
        }
        return text.ToString();

        Family Get(string name)
        {
            if (!families.TryGetValue(name, out var family))
            {
                family = new Family(name);
                families.Add(name, family);
                order.Add(family);
            }
            return family;
        }
    }

    private static bool BelongsTo(string sample, string family) =>
        sample == family || (sample.StartsWith(family, StringComparison.Ordinal)
            && sample.AsSpan(family.Length) is "_bucket" or "_sum" or "_count" or "_created");

    /// <summary>The metric name of <c># HELP name …</c> / <c># TYPE name …</c>.</summary>
    private static string NameAfterKeyword(string line)
    {
        var rest = line[7..];
        var space = rest.IndexOf(' ');
        return space < 0 ? rest : rest[..space];
    }

    /// <summary>The metric name of a sample line: up to its labels or its value.</summary>
    private static string SampleName(string line)
    {
        var end = line.IndexOfAny(['{', ' ']);
        return end < 0 ? line : line[..end];
    }

    private sealed class Family(string name)
    {
        public string Name { get; } = name;
        public string? Help { get; set; }
        public string? Type { get; set; }
        public List<string> Samples { get; } = [];
    }
}
