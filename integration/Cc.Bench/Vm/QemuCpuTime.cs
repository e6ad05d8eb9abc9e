namespace Cc.Bench.Vm;

/// <summary>
/// The CPU time QEMU has used so far, in ms: the run time of all its threads (/proc/&lt;pid&gt;/task/*/schedstat, ns), as
/// hack/guest/cpu-probe.py reads it. Under TCG a boot's CPU time is the work the guest made QEMU do, and it follows the
/// machine's load far less than wall time does (a QEMU waiting for a core uses none), so before/after comparisons on a
/// loaded machine read these rows. Null when the process is gone or /proc cannot be read.
/// </summary>
internal static class QemuCpuTime
{
    public static double? Milliseconds(int pid)
    {
        long total = 0;
        try
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                try
                {
                    var text = File.ReadAllText(Path.Combine(task, "schedstat"));
                    var end = text.IndexOf(' ', StringComparison.Ordinal);
                    if (end > 0 && long.TryParse(text.AsSpan(0, end), out var ns))
                    {
                        total += ns;
                    }
                }
                catch (IOException)
                {
                    // a thread that ended between the listing and the read
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        return total / 1e6;
    }
}
