using System.Globalization;

namespace Cc.Agent.Guest;

// CPU hot-plug inside the guest (docs/hotplug.md). The host plugs a vCPU through ACPI; the kernel makes it present
// (/sys/devices/system/cpu/cpuN appears) but leaves it offline: onlining is user space's job (udev on a distribution,
// the agent here). The ACPI event is handled asynchronously, so a CPU the host just plugged may not be present yet:
// the agent looks again until enough are online or its time is up.
public static class GuestCpus
{
    private const string CpuRoot = "/sys/devices/system/cpu";

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    // Onlines every present, offline CPU until at least `count` are online (or the timeout passed); returns how many
    // are online then.
    public static async Task<int> OnlineAsync(int count, TimeSpan timeout, CancellationToken cancellationToken)
    {
        long started = TimeProvider.System.GetTimestamp();
        while (true)
        {
            OnlinePresent();
            int online = CountOnline();
            if (online >= count || TimeProvider.System.GetElapsedTime(started) >= timeout)
            {
                return online;
            }
            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    // Writes 1 to the online file of every CPU that has one and reads 0 (cpu0 has none: it cannot go offline).
    private static void OnlinePresent()
    {
        foreach (string dir in Directory.EnumerateDirectories(CpuRoot, "cpu*"))
        {
            if (!IsCpuDirectory(dir))
            {
                continue;
            }
            string file = Path.Combine(dir, "online");
            try
            {
                if (File.Exists(file) && File.ReadAllText(file).Trim() == "0")
                {
                    File.WriteAllText(file, "1");
                }
            }
            catch (IOException)
            {
                // EBUSY while the kernel still sets the CPU up, or it was just ejected: the next round sees it again.
            }
        }
    }

    // The kernel's list of online CPUs, e.g. "0-2,4".
    public static int CountOnline() => CountList(File.ReadAllText(Path.Combine(CpuRoot, "online")));

    public static int CountList(string list)
    {
        int count = 0;
        foreach (string range in list.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] ends = range.Split('-');
            int first = int.Parse(ends[0], CultureInfo.InvariantCulture);
            int last = ends.Length > 1 ? int.Parse(ends[1], CultureInfo.InvariantCulture) : first;
            count += last - first + 1;
        }
        return count;
    }

    // MemTotal from /proc/meminfo, in KiB.
    public static ulong MemTotalKib()
    {
        foreach (string line in File.ReadLines("/proc/meminfo"))
        {
            if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
            {
                return ulong.Parse(line["MemTotal:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }
        return 0;
    }

    private static bool IsCpuDirectory(string dir)
    {
        string name = Path.GetFileName(dir);
        return name.Length > 3 && name[3..].All(char.IsAsciiDigit);
    }
}
