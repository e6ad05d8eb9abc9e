using System.Globalization;
using System.Text;

namespace Cc.Shim.Monitoring;

/// <summary>A label of a sample: its name (a Prometheus label name, written as given) and its value (escaped when written).</summary>
public readonly record struct Label(string Name, string Value);

/// <summary>
/// Writes Prometheus's text exposition format 0.0.4: per family one <c># HELP</c> and one <c># TYPE</c> line, then its
/// samples, <c>name{label="value",…} value</c>, one per line, each line ending in <c>\n</c>. Every sample gets the
/// writer's <see cref="ConstantLabels"/> after its own (a shim's <c>namespace</c> and <c>sandbox</c>), so the samples
/// of many shims never clash when merged (<see cref="ExpositionMerge"/>).
/// <para>
/// The caller keeps the format's rules this class cannot check cheaply: metric and label names are valid
/// (<c>[a-zA-Z_:][a-zA-Z0-9_:]*</c>), a family's samples follow its HELP/TYPE, and no series appears twice.
/// </para>
/// </summary>
public sealed class PrometheusTextWriter(IReadOnlyList<Label> constantLabels)
{
    private readonly StringBuilder _text = new();

    public IReadOnlyList<Label> ConstantLabels { get; } = constantLabels;

    /// <summary>Starts a family; <paramref name="type"/> is <c>counter</c>, <c>gauge</c>, <c>histogram</c>, <c>summary</c> or <c>untyped</c>.</summary>
    public void Family(string name, string type, string help)
    {
        _text.Append("# HELP ").Append(name).Append(' ');
        AppendEscaped(_text, help, escapeQuotes: false);
        _text.Append('\n').Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
    }

    public void Sample(string name, double value, params ReadOnlySpan<Label> labels) => Sample(name, value, labels, le: null);

    /// <summary>
    /// A histogram's samples: one cumulative <c>_bucket</c> per upper bound and <c>+Inf</c>, then <c>_sum</c> and
    /// <c>_count</c>, each with <paramref name="labels"/> (the bucket's <c>le</c> last).
    /// </summary>
    public void Histogram(string name, CumulativeHistogram.Snapshot histogram, params ReadOnlySpan<Label> labels)
    {
        var bucket = name + "_bucket";
        for (var i = 0; i < histogram.UpperBounds.Count; i++)
        {
            Sample(bucket, histogram.CumulativeCounts[i], labels, histogram.UpperBounds[i]);
        }
        Sample(bucket, histogram.Count, labels, double.PositiveInfinity);
        Sample(name + "_sum", histogram.Sum, labels, le: null);
        Sample(name + "_count", histogram.Count, labels, le: null);
    }

    public override string ToString() => _text.ToString();

    private void Sample(string name, double value, ReadOnlySpan<Label> labels, double? le)
    {
        _text.Append(name);
        var separator = '{';
        foreach (var label in labels)
        {
            AppendLabel(label.Name, label.Value, ref separator);
        }
        foreach (var label in ConstantLabels)
        {
            AppendLabel(label.Name, label.Value, ref separator);
        }
        if (le is { } bound)
        {
            AppendLabel("le", FormatValue(bound), ref separator);
        }
        if (separator == ',')
        {
            _text.Append('}');
        }
        _text.Append(' ').Append(FormatValue(value)).Append('\n');
    }

    private void AppendLabel(string name, string value, ref char separator)
    {
        _text.Append(separator).Append(name).Append("=\"");
        AppendEscaped(_text, value, escapeQuotes: true);
        _text.Append('"');
        separator = ',';
    }

    /// <summary>
    /// The format's escapes: in a label value <c>\</c>, <c>"</c> and a line feed become <c>\\</c>, <c>\"</c> and
    /// <c>\n</c>; in HELP text only <c>\</c> and the line feed (a quote stays as it is).
    /// </summary>
    internal static void AppendEscaped(StringBuilder to, string text, bool escapeQuotes)
    {
        foreach (var c in text)
        {
            switch (c)
            {
                case '\\': to.Append(@"\\"); break;
                case '\n': to.Append(@"\n"); break;
                case '"' when escapeQuotes: to.Append("\\\""); break;
                default: to.Append(c); break;
            }
        }
    }

    /// <summary>
    /// A sample value or a bucket bound as Prometheus (Go's ParseFloat) reads it: the shortest text that round-trips,
    /// invariant culture (<c>0.004</c>, <c>1073741824</c>, <c>1E+20</c>), and <c>+Inf</c>, <c>-Inf</c>, <c>NaN</c>.
    /// </summary>
    internal static string FormatValue(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        _ when double.IsNaN(value) => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };
}
