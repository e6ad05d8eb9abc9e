using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Cc.TestKit.Leftovers;

/// <summary>
/// The leftover checks every integration tier shares, one line per thing found (empty when clean): the shim and QEMU
/// processes of a containerd instance, its shim sockets, directories and our run directories. Each tier adds what is
/// its own (mount rules, FIFOs, taps and tc filters, CRI state) in its harness.
/// </summary>
public static partial class HostLeftovers
{
    /// <summary>
    /// Shims of containerd at <paramref name="address"/> serving any of <paramref name="ids"/>, and QEMUs not in
    /// <paramref name="qemuBefore"/> that are that containerd's: their argv names one of <paramref name="markers"/> (the
    /// ids, the instance directory), or <see cref="HostProcess.BelongsTo"/> says so. Other QEMUs (other test projects,
    /// other checkouts, benchmarks) are not counted.
    /// </summary>
    public static IEnumerable<string> Processes(string address, IReadOnlyCollection<string> ids, IReadOnlySet<int> qemuBefore,
        IReadOnlyCollection<string> markers)
    {
        foreach (var p in HostProcess.All())
        {
            if (ids.Any(id => p.IsShimOf(address, id)))
            {
                yield return $"shim process {p.Pid} still running: {p.Args}";
            }
            else if (p.IsQemu && !qemuBefore.Contains(p.Pid)
                && (markers.Any(m => p.Args.Contains(m, StringComparison.Ordinal)) || HostProcess.BelongsTo(p.Pid, address)))
            {
                yield return $"QEMU process {p.Pid} started during the test still running: {p.Args}";
            }
        }
    }

    /// <summary>The sockets of the shims serving <paramref name="ids"/> that still exist.</summary>
    public static IEnumerable<string> ShimSockets(string address, string ns, IEnumerable<string> ids) =>
        ids.Select(id => ShimSocketPath(address, ns, id)).Where(File.Exists).Select(socket => $"shim socket left: {socket}");

    /// <summary>/run/containerd/s/ + hex(sha256("&lt;address&gt;/&lt;ns&gt;/&lt;id&gt;")), the reference shims' convention (protocol.md §2.4.1).</summary>
    public static string ShimSocketPath(string address, string ns, string id) =>
        "/run/containerd/s/" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{address}/{ns}/{id}")));

    /// <summary>Those of <paramref name="directories"/> that exist, each with what it still holds.</summary>
    public static IEnumerable<string> Directories(IEnumerable<string> directories) =>
        directories.Where(Directory.Exists)
            .Select(dir => $"directory left: {dir} [{string.Join(", ", Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName))}]");

    /// <summary>The directory of each of <paramref name="ids"/> in namespace <paramref name="ns"/> under every run_dir of <see cref="RunDirectories"/>.</summary>
    public static IEnumerable<string> RunDirectoriesOf(string ns, IEnumerable<string> ids, string shimConfiguration) =>
        RunDirectories(shimConfiguration).SelectMany(r => ids.Select(id => Path.Combine(r, ns, id)));

    /// <summary>
    /// Every run_dir the shim may have used: the built-in /run/cc, the one the system configuration files name (the
    /// daemon and <c>delete</c> read <c>runtime.run_dir</c> there, docs/configuration.md), and the one of
    /// <paramref name="shimConfiguration"/> (the checkout's build/configuration.toml, CC_RUN_DIR). Checks below each
    /// name the test's own ids, so another checkout's tasks are never counted.
    /// </summary>
    public static IReadOnlyList<string> RunDirectories(string shimConfiguration)
    {
        var dirs = new List<string> { "/run/cc" };
        foreach (var file in new[] { "/etc/cc/configuration.toml", "/usr/share/defaults/cc/configuration.toml", shimConfiguration })
        {
            if (File.Exists(file) && RunDirLine().Match(File.ReadAllText(file)) is { Success: true } match
                && !dirs.Contains(match.Groups[1].Value))
            {
                dirs.Add(match.Groups[1].Value);
            }
        }
        return dirs;
    }

    /// <summary>runtime.run_dir of <paramref name="shimConfiguration"/>, else the built-in /run/cc.</summary>
    public static string ConfiguredRunDirectory(string shimConfiguration) =>
        File.Exists(shimConfiguration) && RunDirLine().Match(File.ReadAllText(shimConfiguration)) is { Success: true } match
            ? match.Groups[1].Value
            : "/run/cc";

    /// <summary>The host's mount points (field 5 of each line of /proc/self/mountinfo).</summary>
    public static IReadOnlySet<string> MountPoints() =>
        File.ReadLines("/proc/self/mountinfo").Select(line => line.Split(' ')[4]).ToHashSet(StringComparer.Ordinal);

    [GeneratedRegex("""^\s*run_dir\s*=\s*"([^"]+)"\s*$""", RegexOptions.Multiline)]
    private static partial Regex RunDirLine();
}
