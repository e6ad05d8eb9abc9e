using System.Globalization;

namespace Cc.Shim.Monitoring;

/// <summary>CPU time of a process, from <c>/proc/&lt;pid&gt;/stat</c>.</summary>
public readonly record struct ProcessCpu(TimeSpan User, TimeSpan System);

/// <summary>Resident memory of a process, from <c>/proc/&lt;pid&gt;/smaps_rollup</c> (bytes).</summary>
public readonly record struct ProcessMemory(long Rss, long Pss);

/// <summary>
/// Pure parsers of the two /proc files the host-side metrics read, and their readers. A process that is gone (or whose
/// file cannot be read) yields null: the metric is then absent from the scrape, not zero.
/// </summary>
public static class ProcFiles
{
    /// <summary>
    /// Clock ticks per second of utime/stime: USER_HZ, which the kernel's user ABI fixes at 100 on the architectures we
    /// build for (x86_64, arm64), whatever CONFIG_HZ is.
    /// </summary>
    public const int UserHz = 100;

    /// <summary>
    /// utime and stime of a <c>stat</c> line (fields 14 and 15, proc(5)). The command name (field 2) is in parentheses
    /// and may hold spaces or ')', so fields are counted from the last ')'.
    /// </summary>
    public static bool TryParseStat(string text, out ProcessCpu cpu)
    {
        cpu = default;
        var close = text.LastIndexOf(')');
        if (close < 0)
        {
            return false;
        }
        // After ")": field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
        var fields = text[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 13
            || !ulong.TryParse(fields[11], NumberStyles.None, CultureInfo.InvariantCulture, out var utime)
            || !ulong.TryParse(fields[12], NumberStyles.None, CultureInfo.InvariantCulture, out var stime))
        {
            return false;
        }
        cpu = new ProcessCpu(Ticks(utime), Ticks(stime));
        return true;
    }

    /// <summary>The <c>Rss:</c> and <c>Pss:</c> lines of <c>smaps_rollup</c> (kB in the file, bytes here).</summary>
    public static bool TryParseSmapsRollup(string text, out ProcessMemory memory)
    {
        long? rss = null, pss = null;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("Rss:", StringComparison.Ordinal))
            {
                rss = Kilobytes(line);
            }
            else if (line.StartsWith("Pss:", StringComparison.Ordinal))
            {
                pss = Kilobytes(line);
            }
        }
        memory = new ProcessMemory(rss ?? 0, pss ?? 0);
        return rss is not null && pss is not null;
    }

    public static ProcessCpu? ReadCpu(int pid) =>
        pid > 0 && TryRead($"/proc/{pid}/stat") is { } text && TryParseStat(text, out var cpu) ? cpu : null;

    /// <summary><paramref name="pid"/> 0 = this process.</summary>
    public static ProcessMemory? ReadMemory(int pid) =>
        TryRead(pid > 0 ? $"/proc/{pid}/smaps_rollup" : "/proc/self/smaps_rollup") is { } text
        && TryParseSmapsRollup(text, out var memory) ? memory : null;

    private static TimeSpan Ticks(ulong ticks) => TimeSpan.FromSeconds(ticks / (double)UserHz);

    private static long? Kilobytes(string line)
    {
        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var kb)
            ? kb * 1024
            : null;
    }

    private static string? TryRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
