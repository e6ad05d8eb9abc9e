using System.Globalization;

namespace Cc.TestKit;

/// <summary>A child's state as /proc shows it, read from outside so that the observer adds nothing to it.</summary>
public static class Procfs
{
    /// <summary>The open descriptor numbers of <paramref name="pid"/>, ascending.</summary>
    public static int[] Fds(int pid) =>
        [.. Directory.GetFileSystemEntries($"/proc/{pid}/fd").Select(p => int.Parse(Path.GetFileName(p), CultureInfo.InvariantCulture)).Order()];

    /// <summary>
    /// Waits until <paramref name="pid"/> (a <c>sleep</c>) is in its nanosleep: right after the exec the dynamic loader
    /// still opens the library cache and libc for a moment, which a descriptor list taken then would show.
    /// </summary>
    public static Task UntilSleepingAsync(int pid) =>
        Bounded.UntilAsync(() => File.ReadAllText($"/proc/{pid}/wchan").Contains("nanosleep", StringComparison.Ordinal),
            $"pid {pid} sleeps");
}
