using System.Globalization;
using System.Text;

namespace Cc.Bench.Vm;

/// <summary>
/// Where a cold start goes (docs/performance.md): each run's guest steps (seconds since the guest kernel started, the
/// agent's GetGuestDetails timeline or the floor's marker) put on the host's clock. The guest cannot see when QEMU
/// started, so each run's offset is estimated from one step both sides saw: the host's "ready" time minus the guest's
/// own time of that step (the agent's first ready Check, the floor's marker); what is left between QEMU's start and the
/// guest kernel's 0 is QEMU, the firmware and the kernel's earliest set-up. Every cell is a median over the runs.
/// </summary>
internal static class BootTimelineReport
{
    public static string Render(IReadOnlyList<BootSample> floor, IReadOnlyList<BootSample> agent, IReadOnlyList<BootSample>? baseline = null)
    {
        var table = new StringBuilder();
        table.AppendLine("| Step | guest clock (s since its kernel started) | since QEMU start (s) | Δ from the row above (s) | runs |");
        table.AppendLine("|---|---:|---:|---:|---:|");
        Section(table, "agent", agent, "first ready Check answered", s => s.FirstOutputMs, "host: first stdout byte received");
        if (baseline is not null)
        {
            Section(table, "baseline agent", baseline, "first ready Check answered", s => s.FirstOutputMs, "host: first stdout byte received");
        }
        Section(table, "floor", floor, GuestRuns.FloorReadyStep, _ => null, null);
        return table.ToString();
    }

    private static void Section(StringBuilder table, string name, IReadOnlyList<BootSample> samples, string anchorStep,
        Func<BootSample, double?> hostEnd, string? hostEndLabel)
    {
        // Per run: seconds from QEMU's start to the guest kernel's 0.
        List<(BootSample Sample, double Offset)> runs = [];
        foreach (var sample in samples)
        {
            if (sample.GuestSteps?.FirstOrDefault(s => s.Step == anchorStep) is { Step: not null } anchor)
            {
                runs.Add((sample, (sample.ReadyMs / 1000) - anchor.Seconds));
            }
        }
        if (runs.Count == 0)
        {
            table.AppendLine(CultureInfo.InvariantCulture, $"| **{name}**: no run reported its guest steps | - | - | - | 0 |");
            return;
        }

        List<(string Label, double? Guest, double Host, int Count)> rows =
        [
            ($"**{name}**: QMP answered (host)", null, Median(runs.Select(r => r.Sample.QmpMs / 1000)), runs.Count),
            ("guest kernel's clock at 0 (host-seen ready − guest's own time of it)", 0, Median(runs.Select(r => r.Offset)), runs.Count),
        ];
        var names = runs.SelectMany(r => r.Sample.GuestSteps!.Select(s => s.Step)).Distinct(StringComparer.Ordinal);
        foreach (var step in names)
        {
            var guest = runs.SelectMany(r => r.Sample.GuestSteps!.Where(s => s.Step == step).Select(s => (Guest: s.Seconds, Host: s.Seconds + r.Offset))).ToList();
            rows.Add((step, Median(guest.Select(g => g.Guest)), Median(guest.Select(g => g.Host)), guest.Count));
        }
        var seen = runs.Where(r => r.Sample.PortOpenSeenMs is not null).Select(r => (Host: r.Sample.PortOpenSeenMs!.Value / 1000, r.Offset)).ToList();
        if (seen.Count > 0)
        {
            rows.Add(("host: VSERPORT_CHANGE open seen", Median(seen.Select(e => e.Host - e.Offset)), Median(seen.Select(e => e.Host)), seen.Count));
        }
        if (hostEndLabel is not null)
        {
            var ends = runs.Where(r => hostEnd(r.Sample) is not null).Select(r => (Host: hostEnd(r.Sample)!.Value / 1000, r.Offset)).ToList();
            if (ends.Count > 0)
            {
                rows.Add((hostEndLabel, Median(ends.Select(e => e.Host - e.Offset)), Median(ends.Select(e => e.Host)), ends.Count));
            }
        }

        var previous = 0.0;
        foreach (var (label, guest, host, count) in rows.OrderBy(r => r.Host))
        {
            var took = host - previous;
            previous = host;
            var guestCell = guest is { } g ? g.ToString("0.000", CultureInfo.InvariantCulture) : "-";
            table.AppendLine(CultureInfo.InvariantCulture, $"| {label} | {guestCell} | {host:0.000} | {took:0.000} | {count} |");
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
