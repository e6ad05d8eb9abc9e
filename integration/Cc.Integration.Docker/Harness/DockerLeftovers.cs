using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Docker.Harness;

/// <summary>
/// What a removed Docker container left on the host: its shim, QEMU processes of this instance that were not running
/// before, mounts that were not there before, its shim socket, its bundle and its run directory under the shim's run_dir.
/// A test takes a <see cref="Snapshot"/> before it runs the container and asks <see cref="Find"/> after `docker rm`.
/// </summary>
internal static class DockerLeftovers
{
    /// <summary>The QEMU pids and the mount points of the host before a test.</summary>
    public sealed record Snapshot(IReadOnlySet<int> Qemus, IReadOnlySet<string> Mounts);

    public static Snapshot Take() =>
        new(Processes().Where(p => p.Comm.StartsWith("qemu-system", StringComparison.Ordinal)).Select(p => p.Pid).ToHashSet(),
            MountPoints());

    /// <summary>Everything still present for container <paramref name="id"/> (its full id), one line each; empty when clean.</summary>
    public static IReadOnlyList<string> Find(PrivateDocker docker, string id, Snapshot before)
    {
        var found = new List<string>();
        foreach (var (pid, comm, args) in Processes())
        {
            if (IsShimOf(args, docker, id))
            {
                found.Add($"shim process {pid} still running: {args}");
            }
            else if (comm.StartsWith("qemu-system", StringComparison.Ordinal) && !before.Qemus.Contains(pid) && IsOurs(pid, docker))
            {
                found.Add($"QEMU process {pid} started during the test still running: {args}");
            }
        }

        // Only mounts that can be this instance's: other test runs on the host mount and unmount meanwhile.
        var ours = RunDirectories().Select(r => Path.Combine(r, PrivateDocker.ContainerdNamespace) + "/").Append(docker.Directory + "/").ToList();
        found.AddRange(MountPoints()
            .Where(m => !before.Mounts.Contains(m)
                && (m.Contains(id, StringComparison.Ordinal) || ours.Any(prefix => m.StartsWith(prefix, StringComparison.Ordinal))))
            .Select(m => $"mount left: {m}"));

        var socket = "/run/containerd/s/" + Convert.ToHexStringLower(
            SHA256.HashData(Encoding.UTF8.GetBytes($"{docker.ContainerdAddress}/{PrivateDocker.ContainerdNamespace}/{id}")));
        if (File.Exists(socket))
        {
            found.Add($"shim socket left: {socket}");
        }

        foreach (var dir in RunDirectories().Select(r => Path.Combine(r, PrivateDocker.ContainerdNamespace, id)).Append(docker.BundlePath(id)))
        {
            if (Directory.Exists(dir))
            {
                found.Add($"directory left: {dir} [{string.Join(", ", Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName))}]");
            }
        }

        return found;
    }

    /// <summary>
    /// <see cref="Find"/> until it is empty or <paramref name="timeout"/> passed: `docker rm` returns once containerd
    /// deleted the task, while the shim may still be stopping its VM and exiting (bounded by its shutdown timeout).
    /// </summary>
    public static async Task<IReadOnlyList<string>> SettledAsync(PrivateDocker docker, string id, Snapshot before, TimeSpan timeout)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        IReadOnlyList<string> left;
        while ((left = Find(docker, id, before)).Count > 0 && clock.Elapsed < timeout)
        {
            await Task.Delay(250);
        }
        return left;
    }

    /// <summary>The pids of the shims serving container <paramref name="id"/>.</summary>
    public static IReadOnlyList<int> ShimPids(PrivateDocker docker, string id) =>
        [.. Processes().Where(p => IsShimOf(p.Args, docker, id)).Select(p => p.Pid)];

    /// <summary>The QEMU processes that are children of <paramref name="parent"/>.</summary>
    public static IReadOnlyList<int> QemuChildren(int parent) =>
        [.. Processes().Where(p => p.Comm.StartsWith("qemu-system", StringComparison.Ordinal) && ParentOf(p.Pid) == parent).Select(p => p.Pid)];

    // containerd starts a shim with `-namespace moby -address <its socket> ... -id <container id>`; the trailing space of
    // Args lets "-id <id> " match the last argument too.
    private static bool IsShimOf(string args, PrivateDocker docker, string id) =>
        args.Contains($"-address {docker.ContainerdAddress} ", StringComparison.Ordinal)
        && args.Contains($"-id {id} ", StringComparison.Ordinal);

    /// <summary>A process of this instance: it inherited the TTRPC_ADDRESS containerd gives every shim, or a shim of the instance is an ancestor.</summary>
    private static bool IsOurs(int pid, PrivateDocker docker)
    {
        try
        {
            if (File.ReadAllText($"/proc/{pid}/environ").Split('\0').Contains($"TTRPC_ADDRESS={docker.ContainerdAddress}.ttrpc"))
            {
                return true;
            }
            for (var parent = ParentOf(pid); parent > 1; parent = ParentOf(parent))
            {
                if (File.ReadAllText($"/proc/{parent}/cmdline").Replace('\0', ' ').Contains($"-address {docker.ContainerdAddress} ", StringComparison.Ordinal))
                {
                    return true;
                }
            }
        }
        catch (IOException)
        {
            // It exited while we looked: not a leftover.
        }
        return false;
    }

    /// <summary>The shim's run_dir candidates: the one build/configuration.toml names and the built-in /run/cc.</summary>
    private static IReadOnlyList<string> RunDirectories()
    {
        var dirs = new List<string> { "/run/cc" };
        if (File.Exists(RepoPaths.ShimConfiguration))
        {
            foreach (var line in File.ReadLines(RepoPaths.ShimConfiguration))
            {
                if (line.Trim().StartsWith("run_dir", StringComparison.Ordinal) && line.Split('"') is [_, var value, ..] && !dirs.Contains(value))
                {
                    dirs.Add(value);
                }
            }
        }
        return dirs;
    }

    // Field 5 of each mountinfo line is the mount point.
    private static HashSet<string> MountPoints() =>
        File.ReadLines("/proc/self/mountinfo").Select(line => line.Split(' ')[4]).ToHashSet(StringComparer.Ordinal);

    // Field 4 of /proc/<pid>/stat, after the parenthesised command name (which may contain spaces); 0 once it is gone.
    private static int ParentOf(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static IEnumerable<(int Pid, string Comm, string Args)> Processes()
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }
            string comm, args;
            try
            {
                comm = File.ReadAllText(Path.Combine(dir, "comm")).Trim();
                args = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // exited while we looked
            }
            yield return (pid, comm, args);
        }
    }
}
