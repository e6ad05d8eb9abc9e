using Cc.TestKit.Leftovers;

namespace Cc.Integration.Containerd.Harness;

/// <summary>
/// Finds what a deleted task left behind: its shim process, QEMU processes that were not running before the test,
/// mounts, the shim socket, its stdio FIFOs, the bundle, work and run directories. The checks shared with the other
/// tiers are <see cref="HostLeftovers"/>; the mount and FIFO rules here are this tier's own.
/// </summary>
internal static class Leftovers
{
    /// <summary>The pids of every running QEMU; taken before a test, compared after it.</summary>
    public static IReadOnlySet<int> QemuPids() => HostProcess.QemuPids();

    /// <summary>
    /// Everything still present for task <paramref name="id"/>, one line each; empty when clean.
    /// A QEMU counts when it started after <paramref name="qemuBefore"/> was taken and belongs to this
    /// containerd instance (its argv names the task or the instance directory, or <see cref="HostProcess.BelongsTo"/>).
    /// </summary>
    public static IReadOnlyList<string> Find(PrivateContainerd containerd, string id, IReadOnlySet<int> qemuBefore)
    {
        var found = HostLeftovers.Processes(containerd.Address, [id], qemuBefore, [id, containerd.Directory]).ToList();

        // Bundles and rootfs mounts carry /<ns>/<id>.
        found.AddRange(HostLeftovers.MountPoints()
            .Where(m => m.Contains($"/{PrivateContainerd.Namespace}/{id}", StringComparison.Ordinal)
                || m.Contains($"/{id}/", StringComparison.Ordinal) || m.EndsWith($"/{id}", StringComparison.Ordinal))
            .Select(m => $"mount left: {m}"));

        found.AddRange(HostLeftovers.ShimSockets(containerd.Address, PrivateContainerd.Namespace, [id]));
        found.AddRange(HostLeftovers.Directories([containerd.BundlePath(id), WorkPath(containerd, id),
            .. HostLeftovers.RunDirectoriesOf(PrivateContainerd.Namespace, [id], RepoPaths.ShimConfiguration)]));

        // ctr names the task's FIFOs <id>-stdin/-stdout/-stderr in a directory of its own. (ctr itself
        // abandons the FIFOs of a detached `task exec -d`; those carry the exec id and are not counted.)
        if (Directory.Exists(containerd.FifoDirectory))
        {
            found.AddRange(Directory.EnumerateFiles(containerd.FifoDirectory, $"{id}-*", SearchOption.AllDirectories)
                .Select(fifo => $"FIFO left: {fifo}"));
        }

        return found;
    }

    /// <summary>The shim's run_dir candidates (<see cref="HostLeftovers.RunDirectories"/> for this checkout's configuration).</summary>
    public static IReadOnlyList<string> RunDirectories() => HostLeftovers.RunDirectories(RepoPaths.ShimConfiguration);

    /// <summary>runtime.run_dir of build/configuration.toml (the ConfigPath every test passes), else the built-in /run/cc.</summary>
    public static string ConfiguredRunDirectory() => HostLeftovers.ConfiguredRunDirectory(RepoPaths.ShimConfiguration);

    /// <summary>The pids of the shim processes serving task <paramref name="id"/> of <paramref name="containerd"/>.</summary>
    public static IReadOnlyList<int> ShimPids(PrivateContainerd containerd, string id) => HostProcess.ShimPids(containerd.Address, id);

    /// <summary>The QEMU processes whose parent is <paramref name="parent"/>.</summary>
    public static IReadOnlyList<int> QemuChildren(int parent) => HostProcess.QemuChildren(parent);

    /// <summary>The socket of the shim serving <paramref name="id"/> (<see cref="HostLeftovers.ShimSocketPath"/>).</summary>
    public static string ShimSocketPath(string address, string ns, string id) => HostLeftovers.ShimSocketPath(address, ns, id);

    private static string WorkPath(PrivateContainerd containerd, string id) =>
        Path.Combine(containerd.Directory, "root", "io.containerd.runtime.v2.task", PrivateContainerd.Namespace, id);
}
