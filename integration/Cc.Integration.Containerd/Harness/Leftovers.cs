using System.Security.Cryptography;
using System.Text;

namespace Cc.Integration.Containerd.Harness;

/// <summary>
/// Finds what a deleted task left behind: its shim process, QEMU processes that were not running
/// before the test, mounts, the shim socket, its stdio FIFOs, the bundle and work directories.
/// </summary>
internal static class Leftovers
{
    /// <summary>The pids of every running QEMU; taken before a test, compared after it.</summary>
    public static IReadOnlySet<int> QemuPids() =>
        Processes().Where(p => p.Comm.StartsWith("qemu-system", StringComparison.Ordinal)).Select(p => p.Pid).ToHashSet();

    /// <summary>
    /// Everything still present for task <paramref name="id"/>, one line each; empty when clean.
    /// A QEMU counts when it started after <paramref name="qemuBefore"/> was taken and belongs to this
    /// containerd instance (see <see cref="IsOurs"/>).
    /// </summary>
    public static IReadOnlyList<string> Find(PrivateContainerd containerd, string id, IReadOnlySet<int> qemuBefore)
    {
        var found = new List<string>();
        foreach (var p in Processes())
        {
            if (p.Args.Contains($"-address {containerd.Address} ", StringComparison.Ordinal)
                && p.Args.Contains($"-id {id} ", StringComparison.Ordinal))
            {
                found.Add($"shim process {p.Pid} still running: {p.Args}");
            }
            else if (p.Comm.StartsWith("qemu-system", StringComparison.Ordinal) && !qemuBefore.Contains(p.Pid)
                && IsOurs(p.Pid, p.Args, containerd, id))
            {
                found.Add($"QEMU process {p.Pid} started during the test still running: {p.Args}");
            }
        }

        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            // Field 5 is the mount point; bundles and rootfs mounts carry /<ns>/<id>.
            var mountPoint = line.Split(' ')[4];
            if (mountPoint.Contains($"/{PrivateContainerd.Namespace}/{id}", StringComparison.Ordinal)
                || mountPoint.Contains($"/{id}/", StringComparison.Ordinal) || mountPoint.EndsWith($"/{id}", StringComparison.Ordinal))
            {
                found.Add($"mount left: {mountPoint}");
            }
        }

        var socket = ShimSocketPath(containerd.Address, PrivateContainerd.Namespace, id);
        if (File.Exists(socket))
        {
            found.Add($"shim socket left: {socket}");
        }

        foreach (var dir in new[] { containerd.BundlePath(id), WorkPath(containerd, id) })
        {
            if (Directory.Exists(dir))
            {
                found.Add($"directory left: {dir} [{string.Join(", ", Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName))}]");
            }
        }

        foreach (var runDir in RunDirectories())
        {
            var dir = Path.Combine(runDir, PrivateContainerd.Namespace, id);
            if (Directory.Exists(dir))
            {
                found.Add($"run directory left: {dir} [{string.Join(", ", Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName))}]");
            }
        }

        // ctr names the task's FIFOs <id>-stdin/-stdout/-stderr in a directory of its own. (ctr itself
        // abandons the FIFOs of a detached `task exec -d`; those carry the exec id and are not counted.)
        if (Directory.Exists(containerd.FifoDirectory))
        {
            found.AddRange(Directory.EnumerateFiles(containerd.FifoDirectory, $"{id}-*", SearchOption.AllDirectories)
                .Select(fifo => $"FIFO left: {fifo}"));
        }

        return found;
    }

    /// <summary>
    /// Whether a process belongs to <paramref name="containerd"/>: it inherited the TTRPC_ADDRESS that
    /// containerd gives every shim, or its argv names the task or the instance dir, or an ancestor is
    /// one of the instance's shims. Other QEMUs (other test projects, benchmarks) are not ours.
    /// </summary>
    private static bool IsOurs(int pid, string args, PrivateContainerd containerd, string id)
    {
        if (args.Contains(id, StringComparison.Ordinal) || args.Contains(containerd.Directory, StringComparison.Ordinal))
        {
            return true;
        }

        try
        {
            var environ = File.ReadAllText($"/proc/{pid}/environ").Split('\0');
            if (environ.Contains($"TTRPC_ADDRESS={containerd.Address}.ttrpc"))
            {
                return true;
            }

            for (var parent = ParentOf(pid); parent > 1; parent = ParentOf(parent))
            {
                if (File.ReadAllText($"/proc/{parent}/cmdline").Replace('\0', ' ').Contains($"-address {containerd.Address} ", StringComparison.Ordinal))
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

    // Field 4 of /proc/<pid>/stat, after the parenthesised command name (which may contain spaces).
    private static int ParentOf(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The shim's run_dir candidates: the one build/configuration.toml names (CC_RUN_DIR, hack/write-configuration.sh)
    /// and the built-in /run/cc, which the daemon and <c>delete</c> use when no system configuration file sets one.
    /// </summary>
    public static IReadOnlyList<string> RunDirectories()
    {
        var configured = ConfiguredRunDirectory();
        return configured == "/run/cc" ? ["/run/cc"] : ["/run/cc", configured];
    }

    /// <summary>runtime.run_dir of build/configuration.toml (the ConfigPath every test passes), else the built-in /run/cc.</summary>
    public static string ConfiguredRunDirectory()
    {
        if (File.Exists(RepoPaths.ShimConfiguration))
        {
            foreach (var line in File.ReadLines(RepoPaths.ShimConfiguration))
            {
                var trimmed = line.Trim();
                if (trimmed.StartsWith("run_dir", StringComparison.Ordinal) && trimmed.Split('"') is [_, var value, ..])
                {
                    return value;
                }
            }
        }
        return "/run/cc";
    }

    /// <summary>The pids of the shim processes serving task <paramref name="id"/> of <paramref name="containerd"/>.</summary>
    public static IReadOnlyList<int> ShimPids(PrivateContainerd containerd, string id) =>
        [.. Processes().Where(p => p.Args.Contains($"-address {containerd.Address} ", StringComparison.Ordinal)
            && p.Args.Contains($"-id {id} ", StringComparison.Ordinal)).Select(p => p.Pid)];

    /// <summary>The QEMU processes whose parent is <paramref name="parent"/>.</summary>
    public static IReadOnlyList<int> QemuChildren(int parent) =>
        [.. Processes().Where(p => p.Comm.StartsWith("qemu-system", StringComparison.Ordinal) && SafeParentOf(p.Pid) == parent).Select(p => p.Pid)];

    private static int SafeParentOf(int pid)
    {
        try
        {
            return ParentOf(pid);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>/run/containerd/s/ + hex(sha256("&lt;address&gt;/&lt;ns&gt;/&lt;id&gt;")), the reference shims' convention (protocol.md §2.4.1).</summary>
    public static string ShimSocketPath(string address, string ns, string id) =>
        "/run/containerd/s/" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{address}/{ns}/{id}")));

    private static string WorkPath(PrivateContainerd containerd, string id) =>
        Path.Combine(containerd.Directory, "root", "io.containerd.runtime.v2.task", PrivateContainerd.Namespace, id);

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
                // argv is NUL-separated; a trailing space lets "-id <id> " match the last argument too.
                args = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
            }
            catch (IOException)
            {
                continue; // exited while we looked
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }

            yield return (pid, comm, args);
        }
    }
}
