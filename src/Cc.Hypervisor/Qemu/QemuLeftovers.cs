using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Hypervisor.Qemu;

/// <summary>
/// Cleans up after a driver process that died without disposing its VM (a crashed or SIGKILLed shim):
/// kills the QEMU named by the run directory's pid file and any virtiofsd serving that run directory,
/// then removes the directory. Meant for <c>shim delete</c>, which containerd runs after a shim dies.
/// </summary>
public static class QemuLeftovers
{
    private static readonly TimeSpan KillTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Returns the pids it killed. A pid is only killed when its command line names
    /// <paramref name="runDirectory"/>: pids are reused, and a stale pid file must not kill a stranger.
    /// </summary>
    public static async Task<IReadOnlyList<int>> CleanupAsync(string runDirectory, ILogger? logger, CancellationToken cancellationToken)
    {
        logger ??= NullLogger.Instance;
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(runDirectory));
        var layout = new RunLayout(runDirectory, Path.Combine(runDirectory, "console.log"));
        var victims = new List<int>();
        if (TryReadPid(layout.PidFile) is { } qemuPid && CommandLineMentions(qemuPid, runDirectory))
        {
            victims.Add(qemuPid);
        }
        victims.AddRange(PidsMentioning("--socket-path=" + layout.VirtiofsdSocket).Where(pid => !victims.Contains(pid)));
        foreach (int pid in victims)
        {
            Kill(pid);
        }
        foreach (int pid in victims)
        {
            await WaitGoneAsync(pid, cancellationToken).ConfigureAwait(false);
        }
        QemuVirtualMachine.RemoveRunDirectory(runDirectory, logger, name);
        return victims;
    }

    private static int? TryReadPid(string path)
    {
        try
        {
            return int.TryParse(File.ReadAllText(path).Trim(), out int pid) && pid > 0 ? pid : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool CommandLineMentions(int pid, string text)
    {
        try
        {
            // /proc/<pid>/cmdline separates arguments with NULs; a substring match is what we need.
            return File.ReadAllText($"/proc/{pid}/cmdline").Contains(text, StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static IEnumerable<int> PidsMentioning(string text)
    {
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out int pid) && CommandLineMentions(pid, text))
            {
                yield return pid;
            }
        }
    }

    private static void Kill(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill();
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            // Already gone.
        }
    }

    // The orphan is not our child, so we cannot reap it; it is gone once its (new) parent has reaped it,
    // or is a zombie, which holds no resources.
    private static async Task WaitGoneAsync(int pid, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        while (IsAlive(pid))
        {
            if (Stopwatch.GetElapsedTime(start) > KillTimeout)
            {
                throw new TimeoutException($"pid {pid} survived SIGKILL for {KillTimeout}");
            }
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            // Field 3, after the parenthesised command name, is the state; Z = zombie, X = dead.
            string state = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0];
            return state is not ("Z" or "X");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
