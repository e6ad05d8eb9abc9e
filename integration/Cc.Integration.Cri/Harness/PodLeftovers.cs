using Cc.Integration.Containerd.Harness;
using Cc.TestKit.Leftovers;

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
    public static IReadOnlySet<int> QemuPids() => HostProcess.QemuPids();

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
        var ids = containers.Append(pod).ToList();
        var found = HostLeftovers.Processes(containerd.Address, ids, qemuBefore, [pod, containerd.Directory]).ToList();

        found.AddRange(HostLeftovers.MountPoints().Where(m => ids.Any(id => m.Contains(id, StringComparison.Ordinal)))
            .Select(m => $"mount left: {m}"));

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

        found.AddRange(HostLeftovers.ShimSockets(containerd.Address, CriContainerd.Namespace, ids));

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
        found.AddRange(HostLeftovers.Directories(dirs));

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
    /// What is left of the pod once it had <paramref name="timeout"/> to go: the shim daemon exits after containerd's
    /// Shutdown, which RemovePodSandbox does not wait for, so the check is repeated until it finds nothing or the bound
    /// passes; then the last list (empty when the pod is gone).
    /// </summary>
    public static async Task<IReadOnlyList<string>> AfterRemovalAsync(CriContainerd containerd, string pod,
        IReadOnlyCollection<string> containers, string? netns, IReadOnlySet<int> qemuBefore, TimeSpan timeout)
    {
        IReadOnlyList<string> left = [];
        try
        {
            await Wait.ForAsync("leftovers removed", timeout, async () =>
            {
                left = await FindAsync(containerd, pod, containers, netns, qemuBefore);
                return left.Count == 0 ? left : null;
            }, CancellationToken.None);
        }
        catch (TimeoutException)
        {
        }
        return left;
    }

    /// <summary>Every run_dir the shim may have used (<see cref="HostLeftovers.RunDirectories"/> for this checkout's configuration).</summary>
    public static IReadOnlyList<string> RunDirectories() => HostLeftovers.RunDirectories(RepoPaths.ShimConfiguration);
}
