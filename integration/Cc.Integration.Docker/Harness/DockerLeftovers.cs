using Cc.Integration.Containerd.Harness;
using Cc.TestKit.Leftovers;

namespace Cc.Integration.Docker.Harness;

/// <summary>
/// What a removed Docker container left on the host: its shim, QEMU processes of this instance that were not running
/// before, mounts that were not there before, its shim socket, its bundle and its run directory under the shim's run_dir.
/// A test takes a <see cref="Snapshot"/> before it runs the container and asks <see cref="Find"/> after `docker rm`.
/// The checks shared with the other tiers are <see cref="HostLeftovers"/>; the mount rule here is this tier's own.
/// </summary>
internal static class DockerLeftovers
{
    /// <summary>The QEMU pids and the mount points of the host before a test.</summary>
    public sealed record Snapshot(IReadOnlySet<int> Qemus, IReadOnlySet<string> Mounts);

    public static Snapshot Take() => new(HostProcess.QemuPids(), HostLeftovers.MountPoints());

    /// <summary>Everything still present for container <paramref name="id"/> (its full id), one line each; empty when clean.</summary>
    public static IReadOnlyList<string> Find(PrivateDocker docker, string id, Snapshot before)
    {
        var found = HostLeftovers.Processes(docker.ContainerdAddress, [id], before.Qemus, [id, docker.Directory]).ToList();

        // Only mounts that can be this instance's: other test runs on the host mount and unmount meanwhile.
        var runDirectories = HostLeftovers.RunDirectories(RepoPaths.ShimConfiguration);
        var ours = runDirectories.Select(r => Path.Combine(r, PrivateDocker.ContainerdNamespace) + "/").Append(docker.Directory + "/").ToList();
        found.AddRange(HostLeftovers.MountPoints()
            .Where(m => !before.Mounts.Contains(m)
                && (m.Contains(id, StringComparison.Ordinal) || ours.Any(prefix => m.StartsWith(prefix, StringComparison.Ordinal))))
            .Select(m => $"mount left: {m}"));

        found.AddRange(HostLeftovers.ShimSockets(docker.ContainerdAddress, PrivateDocker.ContainerdNamespace, [id]));
        found.AddRange(HostLeftovers.Directories([
            .. HostLeftovers.RunDirectoriesOf(PrivateDocker.ContainerdNamespace, [id], RepoPaths.ShimConfiguration), docker.BundlePath(id)]));
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
    public static IReadOnlyList<int> ShimPids(PrivateDocker docker, string id) => HostProcess.ShimPids(docker.ContainerdAddress, id);

    /// <summary>The QEMU processes that are children of <paramref name="parent"/>.</summary>
    public static IReadOnlyList<int> QemuChildren(int parent) => HostProcess.QemuChildren(parent);
}
