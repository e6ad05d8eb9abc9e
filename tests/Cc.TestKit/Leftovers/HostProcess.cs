using System.Globalization;

namespace Cc.TestKit.Leftovers;

/// <summary>A process of the host as /proc shows it: argv joined by spaces with a trailing one, so "-id &lt;id&gt; " matches the last argument too.</summary>
public sealed record HostProcess(int Pid, string Comm, string Args)
{
    /// <summary>Every process of the host; one that exits while it is read is passed over.</summary>
    public static IEnumerable<HostProcess> All()
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
                args = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // exited while we looked
            }
            yield return new HostProcess(pid, comm, args);
        }
    }

    public bool IsQemu => Comm.StartsWith("qemu-system", StringComparison.Ordinal);

    /// <summary>The pids of every running QEMU; taken before a test, compared after it.</summary>
    public static IReadOnlySet<int> QemuPids() => All().Where(p => p.IsQemu).Select(p => p.Pid).ToHashSet();

    /// <summary>The QEMU processes whose parent is <paramref name="parent"/>.</summary>
    public static IReadOnlyList<int> QemuChildren(int parent) => [.. All().Where(p => p.IsQemu && ParentOf(p.Pid) == parent).Select(p => p.Pid)];

    /// <summary>
    /// The shims containerd at <paramref name="address"/> started for task <paramref name="id"/>: containerd starts each
    /// with <c>-namespace &lt;ns&gt; -address &lt;its socket&gt; … -id &lt;id&gt;</c>.
    /// </summary>
    public static IReadOnlyList<int> ShimPids(string address, string id) => [.. All().Where(p => p.IsShimOf(address, id)).Select(p => p.Pid)];

    public bool IsShimOf(string address, string id) =>
        Args.Contains($"-address {address} ", StringComparison.Ordinal) && Args.Contains($"-id {id} ", StringComparison.Ordinal);

    /// <summary>
    /// Whether the process belongs to containerd at <paramref name="address"/>: it inherited the TTRPC_ADDRESS that
    /// containerd gives every shim, or an ancestor is one of that containerd's shims. False once it is gone.
    /// </summary>
    public static bool BelongsTo(int pid, string address)
    {
        try
        {
            if (File.ReadAllText($"/proc/{pid}/environ").Split('\0').Contains($"TTRPC_ADDRESS={address}.ttrpc"))
            {
                return true;
            }
            for (var parent = ParentOf(pid); parent > 1; parent = ParentOf(parent))
            {
                if (File.ReadAllText($"/proc/{parent}/cmdline").Replace('\0', ' ').Contains($"-address {address} ", StringComparison.Ordinal))
                {
                    return true;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // It exited while we looked: not a leftover.
        }
        return false;
    }

    /// <summary>
    /// Whether <paramref name="pid"/> still runs: false once it is gone and also while it is a zombie (dead, waiting for
    /// its parent to reap it, which is the parent's business, not a leftover of ours: hack/containerd/stop.sh's rule).
    /// </summary>
    public static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[stat.LastIndexOf(')') + 2];
            return state is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Field 4 of /proc/&lt;pid&gt;/stat, after the parenthesised command name (which may contain spaces); 0 once it is gone.</summary>
    public static int ParentOf(int pid)
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
}
