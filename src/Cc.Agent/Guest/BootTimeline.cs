using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Cc.Agent.Native;

namespace Cc.Agent.Guest;

// Where a cold start goes, seen from inside the guest (docs/performance.md, "Where a cold start goes"): the first time
// each named step happened, in seconds since the guest kernel started. The agent's own steps are read from
// CLOCK_MONOTONIC (Stopwatch on Linux), which the kernel starts at 0 at boot; PID 1's creation from its start time in
// /proc/self/stat; the kernel's steps from the timestamps of a few of its log lines. Only the first occurrence of a
// step counts, so the timeline tells the boot and the first container, and marking costs one dictionary probe after
// that. Read by GetGuestDetails (Cc.Bench vm prints it as a table).
public static class BootTimeline
{
    // Step names: the bench's table uses them as they are.
    public const string InitExec = "PID 1 created (kernel_init, before it runs /init)";
    public const string AgentMain = "agent main entered";
    public const string Mounted = "pseudo filesystems mounted";
    public const string ModulesLoaded = "boot modules loaded";
    public const string DeferredModulesLoaded = "deferred modules loaded (background)";
    public const string DeferredModulesAwaited = "deferred modules awaited by a request";
    public const string CreateWithoutDeferredModules = "CreateContainer needs no deferred module";
    public const string ShareMounted = "share mounted";
    public const string Ready = "agent ready";
    public const string PortOpened = "agent port opened";
    public const string FirstCheck = "first ready Check answered";
    public const string CreateReceived = "CreateContainer received";
    public const string CreateAnswered = "CreateContainer answered";
    public const string StartReceived = "StartContainer received";
    // The agent released the init through crun's exec FIFO (no `crun start` process: ContainerManager.Start.cs).
    public const string InitReleased = "init released (exec fifo written)";
    public const string StartAnswered = "StartContainer answered";
    public const string FirstOutput = "first output answered";

    // Kernel log lines that start a step, and the step's name (init/initramfs.c, init/main.c, arch/x86/mm/init.c).
    private static readonly (string Marker, string Step)[] s_kernelMarkers =
    [
        ("Unpacking initramfs", "kernel: initramfs unpack begins"),
        ("Trying to unpack rootfs image as initramfs", "kernel: initramfs unpack begins"),
        ("Freeing initrd memory", "kernel: initramfs unpacked"),
        ("Freeing unused kernel image", "kernel: init memory freed"),
        ("Run /init as init process", "kernel: runs /init"),
    ];

    private static readonly ConcurrentDictionary<string, long> s_first = new(StringComparer.Ordinal);

    // The first time of `step` only; later calls do nothing.
    public static void Mark(string step)
    {
        if (!s_first.ContainsKey(step))
        {
            s_first.TryAdd(step, Stopwatch.GetTimestamp());
        }
    }

    // A step that crun (or any runtime) went through, named after its command: "crun create started" etc.
    public static void MarkRuntime(string command, string what) => Mark($"crun {command} {what}");

    // Every step known so far, oldest first: the kernel's (from its log), /init's exec, then the agent's marks.
    public static IReadOnlyList<(string Step, double Seconds)> Steps()
    {
        List<(string, double)> steps = [.. KernelSteps()];
        if (InitExecSeconds() is { } exec)
        {
            steps.Add((InitExec, exec));
        }
        steps.AddRange(s_first.Select(p => (p.Key, (double)p.Value / Stopwatch.Frequency)));
        return [.. steps.OrderBy(s => s.Item2)];
    }

    // Field 22 of /proc/self/stat: when this process started, in clock ticks since boot (USER_HZ = 100: 10 ms
    // resolution). For PID 1 that is the fork of the kernel_init thread early in the boot, not the exec of /init (the
    // kernel's "Run /init" line times that). Null when not PID 1 (tests, a host).
    private static double? InitExecSeconds()
    {
        if (Environment.ProcessId != 1)
        {
            return null;
        }
        try
        {
            var stat = File.ReadAllText("/proc/self/stat");
            // The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[19], CultureInfo.InvariantCulture) / 100.0;
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    // The kernel's log as klogctl gives it: "<6>[    0.512345] Freeing initrd memory: 16104K" per line.
    private static unsafe IEnumerable<(string, double)> KernelSteps()
    {
        var buffer = new byte[1 << 20];
        int length;
        fixed (byte* data = buffer)
        {
            length = LibC.klogctl(LibC.SYSLOG_ACTION_READ_ALL, data, buffer.Length);
        }
        if (length <= 0)
        {
            return [];
        }
        return ParseKernelLog(Encoding.UTF8.GetString(buffer, 0, length));
    }

    internal static IEnumerable<(string Step, double Seconds)> ParseKernelLog(string log)
    {
        HashSet<string> seen = new(StringComparer.Ordinal);
        foreach (var line in log.Split('\n'))
        {
            var open = line.IndexOf('[');
            var close = line.IndexOf(']');
            if (open < 0 || close < open
                || !double.TryParse(line.AsSpan(open + 1, close - open - 1).Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
            {
                continue;
            }
            foreach (var (marker, step) in s_kernelMarkers)
            {
                if (line.AsSpan(close).Contains(marker, StringComparison.Ordinal) && seen.Add(step))
                {
                    yield return (step, seconds);
                }
            }
        }
    }
}
