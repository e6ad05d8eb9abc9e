using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Cri.Harness;

/// <summary>What a pod might leave after RemovePodSandbox; each check names what it found, one line each.</summary>
internal static partial class PodLeftovers
{
    /// <summary>src/Cc.Shim/Network/NetworkRecord.FileName: what the shim changed in the pod's namespace.</summary>
    private const string NetworkRecordFile = "network.json";

    /// <summary>The instance's own sockets (hack/containerd/config.toml.in), relative to its directory: they outlive every pod.</summary>
    private static readonly HashSet<string> s_containerdSockets = new(StringComparer.Ordinal)
    {
        "containerd.sock", "containerd.sock.ttrpc", "debug.sock",
    };

    /// <summary>The pids of every running QEMU; taken before a pod starts, compared after its removal.</summary>
    public static IReadOnlySet<int> QemuPids() =>
        Processes().Where(p => p.Comm.StartsWith("qemu-system", StringComparison.Ordinal)).Select(p => p.Pid).ToHashSet();

    /// <summary>
    /// Everything of pod <paramref name="pod"/> still present: its shim, a QEMU started since <paramref name="qemuBefore"/>
    /// that belongs to this instance, mounts naming the pod or its containers, its network namespace, a veth on the
    /// instance's bridge, taps and tc filters of ours (PodLeftovers.Network.cs), the shim socket, our run directory
    /// and the network record in it, the CRI's state of the pod and its containers, and any FIFO or unix socket left
    /// under the instance or our run directory but containerd's own (tests check after every pod of theirs is removed).
    /// </summary>
    public static async Task<IReadOnlyList<string>> FindAsync(CriContainerd containerd, string pod,
        IReadOnlyCollection<string> containers, string? netns, IReadOnlySet<int> qemuBefore)
    {
        var found = new List<string>();
        var ids = containers.Append(pod).ToList();
        foreach (var p in Processes())
        {
            if (p.Args.Contains($"-address {containerd.Address} ", StringComparison.Ordinal)
                && ids.Any(id => p.Args.Contains($"-id {id} ", StringComparison.Ordinal)))
            {
                found.Add($"shim process {p.Pid} still running: {p.Args}");
            }
            else if (p.Comm.StartsWith("qemu-system", StringComparison.Ordinal) && !qemuBefore.Contains(p.Pid)
                && (p.Args.Contains(pod, StringComparison.Ordinal) || Environ(p.Pid).Contains($"TTRPC_ADDRESS={containerd.Address}.ttrpc")))
            {
                found.Add($"QEMU process {p.Pid} still running: {p.Args}");
            }
        }

        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var mountPoint = line.Split(' ')[4];
            if (ids.Any(id => mountPoint.Contains(id, StringComparison.Ordinal)))
            {
                found.Add($"mount left: {mountPoint}");
            }
        }

        if (netns is not null && File.Exists(netns))
        {
            found.Add($"network namespace left: {netns}");
        }
        var ports = $"/sys/class/net/{containerd.Bridge}/brif";
        if (containerd.Bridge.Length > 0 && Directory.Exists(ports))
        {
            found.AddRange(Directory.EnumerateFileSystemEntries(ports).Select(p => $"veth left on {containerd.Bridge}: {Path.GetFileName(p)}"));
        }
        found.AddRange(await NetworkLeftoversAsync(netns));

        foreach (var id in ids)
        {
            var socket = ShimSocketPath(containerd.Address, CriContainerd.Namespace, id);
            if (File.Exists(socket))
            {
                found.Add($"shim socket left: {socket}");
            }
        }

        var runDirectories = RunDirectories().Select(r => Path.Combine(r, CriContainerd.Namespace, pod)).ToList();
        foreach (var record in runDirectories.Select(r => Path.Combine(r, NetworkRecordFile)).Where(File.Exists))
        {
            found.Add($"network record left: {record}");
        }
        var dirs = new List<string>(runDirectories);
        foreach (var root in new[] { "root", "state" })
        {
            dirs.Add(Path.Combine(containerd.Directory, root, "io.containerd.grpc.v1.cri", "sandboxes", pod));
            dirs.Add(Path.Combine(containerd.Directory, root, "io.containerd.runtime.v2.task", CriContainerd.Namespace, pod));
            foreach (var container in containers)
            {
                dirs.Add(Path.Combine(containerd.Directory, root, "io.containerd.grpc.v1.cri", "containers", container));
                dirs.Add(Path.Combine(containerd.Directory, root, "io.containerd.runtime.v2.task", CriContainerd.Namespace, container));
            }
        }
        found.AddRange(dirs.Where(Directory.Exists).Select(d => $"directory left: {d}"));

        // Our run directories of the pod's containers too: a plain container's shim would have made one per id.
        var roots = RunDirectories().SelectMany(r => ids.Select(id => Path.Combine(r, CriContainerd.Namespace, id)))
            .Where(Directory.Exists).Prepend(containerd.Directory);
        var nodes = await ProcessRunner.RunAsync("find", [.. roots, "(", "-type", "p", "-o", "-type", "s", ")", "-printf", "%y %p\n"],
            TimeSpan.FromSeconds(20), CancellationToken.None);
        foreach (var node in nodes.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var path = node[2..];
            if (node[0] == 'p')
            {
                found.Add($"FIFO left: {path}");
            }
            else if (!s_containerdSockets.Contains(Path.GetRelativePath(containerd.Directory, path)))
            {
                found.Add($"socket left: {path}");
            }
        }
        return found;
    }

    /// <summary>
    /// Asserts that nothing of the pod is left. The shim daemon exits after containerd's Shutdown, which
    /// RemovePodSandbox does not wait for: a bounded wait, then the list of what is still there.
    /// </summary>
    public static async Task ShouldBeGoneAsync(CriContainerd containerd, CriPod pod, IReadOnlyCollection<string> containers,
        IReadOnlySet<int> qemuBefore)
    {
        IReadOnlyList<string> left = [];
        try
        {
            await Wait.ForAsync("leftovers removed", TimeSpan.FromSeconds(15), async () =>
            {
                left = await FindAsync(containerd, pod.Id, containers, pod.NetworkNamespace, qemuBefore);
                return left.Count == 0 ? left : null;
            }, CancellationToken.None);
        }
        catch (TimeoutException)
        {
            left.ShouldBeEmpty(string.Join('\n', left));
        }
    }

    /// <summary>
    /// Every run_dir the shim may have used: the daemon reads <c>runtime.run_dir</c> only from /etc/cc or the defaults
    /// file, else /run/cc (docs/configuration.md: <c>delete</c> gets no runtime options and must find the same
    /// directory), never from the ConfigPath containerd sends; build/configuration.toml's (CC_RUN_DIR) is checked too.
    /// The paths checked under each name the pod's ids, so another checkout's pods are never counted.
    /// </summary>
    public static IReadOnlyList<string> RunDirectories()
    {
        var dirs = new List<string> { "/run/cc" };
        foreach (var file in new[] { "/etc/cc/configuration.toml", "/usr/share/defaults/cc/configuration.toml", RepoPaths.ShimConfiguration })
        {
            if (File.Exists(file) && RunDirLine().Match(File.ReadAllText(file)) is { Success: true } match
                && !dirs.Contains(match.Groups[1].Value))
            {
                dirs.Add(match.Groups[1].Value);
            }
        }
        return dirs;
    }

    /// <summary>/run/containerd/s/ + hex(sha256("&lt;address&gt;/&lt;ns&gt;/&lt;id&gt;")) (protocol.md §2.4.1).</summary>
    public static string ShimSocketPath(string address, string ns, string id) =>
        "/run/containerd/s/" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{address}/{ns}/{id}")));

    [GeneratedRegex("""^run_dir\s*=\s*"([^"]+)"\s*$""", RegexOptions.Multiline)]
    private static partial Regex RunDirLine();

    private static string[] Environ(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/environ").Split('\0');
        }
        catch (IOException)
        {
            return [];
        }
    }

    private static IEnumerable<(int Pid, string Comm, string Args)> Processes()
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
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
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // exited while we looked
            }
            yield return (pid, comm, args);
        }
    }
}
