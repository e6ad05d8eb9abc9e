using System.Globalization;

namespace Cc.Agent.Guest;

// What a container can leave in the guest outside its own namespaces: mounts in the agent's mount namespace, cgroup
// directories, child processes of the agent, and files under the paths given. Captured before and after the template's
// warm-up container (TemplateWarmUp), so that a template is never saved with any of it: a clone would hand it to a pod.
public sealed record GuestFootprint(IReadOnlySet<string> Mounts, IReadOnlySet<string> Cgroups, IReadOnlySet<int> Children,
    IReadOnlySet<string> Paths)
{
    public const string CgroupRoot = "/sys/fs/cgroup";

    // The guest as it is now; `paths` are checked for existence only (a directory that must not outlive the warm-up).
    public static GuestFootprint Capture(IEnumerable<string> paths) =>
        new(ReadMounts(), ReadCgroups(), ReadChildren(), paths.Where(p => Path.Exists(p)).ToHashSet(StringComparer.Ordinal));

    // Everything `after` has that `before` had not, one line each ("mount …", "cgroup …", "process …", "path …").
    public static IReadOnlyList<string> Added(GuestFootprint before, GuestFootprint after) =>
    [
        .. after.Mounts.Where(m => !before.Mounts.Contains(m)).Order(StringComparer.Ordinal).Select(m => $"mount {m}"),
        .. after.Cgroups.Where(c => !before.Cgroups.Contains(c)).Order(StringComparer.Ordinal).Select(c => $"cgroup {c}"),
        .. after.Children.Where(p => !before.Children.Contains(p)).Order().Select(p => $"process {p}"),
        .. after.Paths.Where(p => !before.Paths.Contains(p)).Order(StringComparer.Ordinal).Select(p => $"path {p}"),
    ];

    // Mount point and source of each line of /proc/self/mountinfo (fields 5 and after the " - " separator, its type and
    // source): the ids in fields 1–2 of a mount that stays are the same in both captures, but are left out so that a
    // mount undone and made again reads as the same mount.
    private static HashSet<string> ReadMounts()
    {
        HashSet<string> mounts = new(StringComparer.Ordinal);
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var fields = line.Split(' ');
            var separator = Array.IndexOf(fields, "-");
            if (fields.Length > 4 && separator > 4 && separator + 2 < fields.Length)
            {
                mounts.Add($"{fields[4]} {fields[separator + 1]} {fields[separator + 2]}");
            }
        }
        return mounts;
    }

    private static HashSet<string> ReadCgroups()
    {
        HashSet<string> cgroups = new(StringComparer.Ordinal);
        if (Directory.Exists(CgroupRoot))
        {
            foreach (var directory in Directory.EnumerateDirectories(CgroupRoot, "*", SearchOption.AllDirectories))
            {
                cgroups.Add(directory);
            }
        }
        return cgroups;
    }

    // Processes whose parent is this one (field 4 of /proc/<pid>/stat, after the command's closing parenthesis).
    private static HashSet<int> ReadChildren()
    {
        HashSet<int> children = [];
        var self = Environment.ProcessId;
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            try
            {
                var stat = File.ReadAllText(Path.Combine(entry, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], CultureInfo.InvariantCulture) == self)
                {
                    children.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException or UnauthorizedAccessException)
            {
                // gone meanwhile
            }
        }
        return children;
    }
}
