using System.Globalization;
using System.Text;

namespace Cc.Bench.Vm;

/// <summary>The markdown table of <c>Cc.Bench vm</c>: medians and ranges of each time from QEMU's start,
/// and the ratio of each median to the floor's.</summary>
/// With a baseline (another build's initramfs booted in the same rounds), its rows follow ours.
internal sealed class VmBenchReport(IReadOnlyList<BootSample> floor, IReadOnlyList<BootSample> agent, int floorFailed, int agentFailed,
    (IReadOnlyList<BootSample> Samples, int Failed, string Directory)? baseline = null)
{
    public string Render()
    {
        var table = new StringBuilder();
        table.AppendLine("| QEMU start → | median | range | ÷ floor | failed runs |");
        table.AppendLine("|---|---:|---:|---:|---:|");
        var floorMedian = Median(floor.Select(s => s.ReadyMs));
        Row(table, "**floor**: CC-FLOOR-READY on the console (floor.cpio)", floor.Select(s => s.ReadyMs), floorMedian, floorFailed);
        Row(table, "**agent ready**: first answered Check (initramfs.cpio)", agent.Select(s => s.ReadyMs), floorMedian, agentFailed);
        Row(table, "**first output**: first stdout byte of `echo hello` (busybox over 9p, crun)",
            agent.Where(s => s.FirstOutputMs is not null).Select(s => s.FirstOutputMs!.Value), floorMedian, agentFailed);
        if (baseline is { } b)
        {
            Row(table, $"**baseline agent ready** ({b.Directory})", b.Samples.Select(s => s.ReadyMs), floorMedian, b.Failed);
            Row(table, "**baseline first output**", b.Samples.Where(s => s.FirstOutputMs is not null).Select(s => s.FirstOutputMs!.Value),
                floorMedian, b.Failed);
        }
        Row(table, "QMP answered (the driver's StartAsync returns), floor runs", floor.Select(s => s.QmpMs), null, floorFailed);
        Row(table, "QMP answered, agent runs", agent.Select(s => s.QmpMs), null, agentFailed);

        // The same goals in QEMU's CPU time (QemuCpuTime): what survives a loaded machine.
        table.AppendLine();
        table.AppendLine("| QEMU CPU time until → | median | range | ÷ floor | runs |");
        table.AppendLine("|---|---:|---:|---:|---:|");
        var floorCpu = Median(Cpu(floor, s => s.CpuReadyMs));
        Row(table, "**floor**: CC-FLOOR-READY", Cpu(floor, s => s.CpuReadyMs), floorCpu, null);
        Row(table, "**agent ready**", Cpu(agent, s => s.CpuReadyMs), floorCpu, null);
        Row(table, "**first output**", Cpu(agent, s => s.CpuFirstOutputMs), floorCpu, null);
        if (baseline is { } c)
        {
            Row(table, "**baseline agent ready**", Cpu(c.Samples, s => s.CpuReadyMs), floorCpu, null);
            Row(table, "**baseline first output**", Cpu(c.Samples, s => s.CpuFirstOutputMs), floorCpu, null);
        }
        return table.ToString();
    }

    private static double[] Cpu(IEnumerable<BootSample> samples, Func<BootSample, double?> value) =>
        [.. samples.Select(value).Where(v => v is not null).Select(v => v!.Value)];

    // A null floorMedian leaves the ratio out: the QMP rows are a part of every other row, not a peer of the floor.
    // A null failed count prints the number of values instead (the CPU rows).
    private static void Row(StringBuilder table, string label, IEnumerable<double> values, double? floorMedian, int? failed)
    {
        var sorted = values.Order().ToArray();
        var last = failed?.ToString(CultureInfo.InvariantCulture) ?? sorted.Length.ToString(CultureInfo.InvariantCulture);
        var median = Median(sorted);
        if (median is null)
        {
            table.AppendLine(CultureInfo.InvariantCulture, $"| {label} | - | - | - | {last} |");
            return;
        }

        var ratio = floorMedian is > 0 ? (median.Value / floorMedian.Value).ToString("0.00", CultureInfo.InvariantCulture) : "-";
        table.AppendLine(CultureInfo.InvariantCulture,
            $"| {label} | {median / 1000:0.00} s | {sorted[0]:0}–{sorted[^1]:0} ms | {ratio} | {last} |");
    }

    private static double? Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? null
            : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
            : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
