using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Docker.Harness;

/// <summary>
/// What a removed container's network left on the host: its network namespace (the one dockerd's SandboxKey named,
/// identified by its nsfs inode while the container ran) still held by a process or a mount, and veths still enslaved to the instance's bridge. The namespace going takes our tap and tc redirects with it (they
/// live only there: docs/networking.md); the shim's own bind of it lives in the daemon's mount namespace, which ends
/// with the shim. Shims, QEMU, mounts and run directories are <see cref="DockerLeftovers"/>' part.
/// </summary>
internal static class DockerNetworkLeftovers
{
    /// <summary>The namespace's identity, <c>net:[inode]</c>, as /proc/&lt;pid&gt;/ns/net links and nsfs mounts name it.</summary>
    public static async Task<string> NetnsIdAsync(string sandboxKey)
    {
        var result = await ProcessRunner.RunAsync("/usr/bin/stat", ["-L", "-c", "%i", sandboxKey], TimeSpan.FromSeconds(30), CancellationToken.None);
        result.ExitCode.ShouldBe(0, result.Describe());
        return $"net:[{result.Stdout.Trim()}]";
    }

    /// <summary>The veths enslaved to the instance's bridge now (host side: each container's peer).</summary>
    public static IReadOnlySet<string> Veths(PrivateDocker docker)
    {
        var enslaved = Path.Combine("/sys/class/net", docker.Bridge, "brif");
        return Directory.Exists(enslaved)
            ? Directory.EnumerateFileSystemEntries(enslaved).Select(Path.GetFileName).OfType<string>().ToHashSet(StringComparer.Ordinal)
            : new HashSet<string>();
    }

    /// <summary>Everything of the container's network still present, one line each; veths that were there before excepted.</summary>
    public static IReadOnlyList<string> Find(PrivateDocker docker, string netnsId, IReadOnlySet<string> vethsBefore)
    {
        List<string> found = [];
        // The SandboxKey file itself is dockerd's: it unmounts it at once and deletes it in its periodic garbage
        // collection (libnetwork osl, about a minute later), under runc as under cc. A mount of it is checked below.
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }
            try
            {
                if (new FileInfo(Path.Combine(directory, "ns", "net")).LinkTarget == netnsId)
                {
                    found.Add($"process {pid} ({File.ReadAllText(Path.Combine(directory, "comm")).Trim()}) is still in {netnsId}");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended while we looked.
            }
        }
        found.AddRange(File.ReadAllLines("/proc/self/mountinfo").Where(l => l.Contains(netnsId, StringComparison.Ordinal))
            .Select(l => $"mount of {netnsId} left: {l}"));
        found.AddRange(Veths(docker).Where(v => !vethsBefore.Contains(v)).Select(v => $"veth left on {docker.Bridge}: {v}"));
        return found;
    }
}
