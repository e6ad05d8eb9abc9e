using System.Runtime.InteropServices;
using Cc.Shim.Native;

namespace Cc.Shim.Sandbox;

/// <summary>
/// Mounts a container's rootfs into the sandbox's shared directory (guest.md: <c>containers/&lt;id&gt;/rootfs</c>), where
/// the guest sees it over 9p/virtio-fs as <c>/run/cc/shared/containers/&lt;id&gt;/rootfs</c>. Needs CAP_SYS_ADMIN, which
/// the shim has under containerd.
/// </summary>
public sealed class HostRootfs : IRootfsProvider
{
    public const string GuestSharedRoot = "/run/cc/shared";

    public static string HostPath(string sharedDirectory, string containerId) =>
        Path.Combine(sharedDirectory, "containers", containerId, "rootfs");

    public static string GuestPath(string containerId) => $"{GuestSharedRoot}/containers/{containerId}/rootfs";

    public Task<string> PrepareAsync(string containerId, string bundle, IReadOnlyList<RootfsMount> mounts, string sharedDirectory,
        CancellationToken cancellationToken)
    {
        var target = HostPath(sharedDirectory, containerId);
        Directory.CreateDirectory(target);
        switch (mounts.Count)
        {
            case 0:
                // No mounts: containerd already prepared <bundle>/rootfs (or the client did); share it as it is.
                Mount(Path.Combine(bundle, "rootfs"), target, null, LibC.MS_BIND | LibC.MS_REC, null);
                break;
            case 1:
                MountOne(mounts[0], target);
                break;
            default:
                throw new UnsupportedException($"container {containerId}: {mounts.Count} rootfs mounts; only one is supported");
        }
        return Task.FromResult(GuestPath(containerId));
    }

    public Task ReleaseAsync(string containerId, string sharedDirectory, CancellationToken cancellationToken)
    {
        Release(containerId, sharedDirectory);
        return Task.CompletedTask;
    }

    /// <summary>Unmounts (lazily, so a busy guest share does not block) and removes the container's directory.</summary>
    public static void Release(string containerId, string sharedDirectory)
    {
        var target = HostPath(sharedDirectory, containerId);
        while (MountTable.IsMountPoint(target))
        {
            if (LibC.umount2(target, LibC.MNT_DETACH) != 0)
            {
                throw new IOException($"umount {target}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
            }
        }
        var containerDirectory = Path.GetDirectoryName(target)!;
        if (Directory.Exists(containerDirectory))
        {
            // Only ever reached with nothing mounted below: deleting through a live mount would delete the image.
            Directory.Delete(containerDirectory, recursive: true);
        }
    }

    private static void MountOne(RootfsMount mount, string target)
    {
        ulong flags = 0;
        var data = new List<string>();
        var bind = mount.Type == "bind";
        var recursive = false;
        foreach (var option in mount.Options)
        {
            switch (option)
            {
                case "bind": bind = true; break;
                case "rbind": bind = true; recursive = true; break;
                case "ro": flags |= LibC.MS_RDONLY; break;
                case "rw": break;
                case "nosuid": flags |= LibC.MS_NOSUID; break;
                case "nodev": flags |= LibC.MS_NODEV; break;
                case "noexec": flags |= LibC.MS_NOEXEC; break;
                case "noatime": flags |= LibC.MS_NOATIME; break;
                case "nodiratime": flags |= LibC.MS_NODIRATIME; break;
                case "relatime": flags |= LibC.MS_RELATIME; break;
                case "strictatime": flags |= LibC.MS_STRICTATIME; break;
                default: data.Add(option); break;
            }
        }
        if (bind)
        {
            Mount(mount.Source, target, null, LibC.MS_BIND | (recursive ? LibC.MS_REC : 0), null);
            if ((flags & LibC.MS_RDONLY) != 0)
            {
                // A bind mount ignores MS_RDONLY on creation; read-only takes a remount.
                Mount("", target, null, LibC.MS_BIND | LibC.MS_REMOUNT | flags, null);
            }
            return;
        }
        Mount(mount.Source, target, mount.Type, flags, data.Count > 0 ? string.Join(',', data) : null);
    }

    private static void Mount(string source, string target, string? type, ulong flags, string? data)
    {
        if (LibC.mount(source, target, type, flags, data) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"mount {type ?? "bind"} {source} on {target}: {LibC.ErrorText(errno)}");
        }
    }
}

/// <summary>Reads /proc/self/mountinfo.</summary>
public static class MountTable
{
    public static bool IsMountPoint(string path) => MountPoints().Contains(Path.GetFullPath(path).TrimEnd('/'));

    /// <summary>Mount points at or below <paramref name="directory"/>, deepest first (the order to unmount them in).</summary>
    public static IReadOnlyList<string> Below(string directory)
    {
        var root = Path.GetFullPath(directory).TrimEnd('/');
        return MountPoints().Where(m => m == root || m.StartsWith(root + "/", StringComparison.Ordinal))
            .OrderByDescending(m => m.Length).ToList();
    }

    private static HashSet<string> MountPoints()
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            // Field 5 is the mount point, with space, tab, newline and backslash escaped as \ooo.
            var fields = line.Split(' ');
            if (fields.Length > 4)
            {
                result.Add(Unescape(fields[4]));
            }
        }
        return result;
    }

    private static string Unescape(string value)
    {
        if (!value.Contains('\\'))
        {
            return value;
        }
        var sb = new System.Text.StringBuilder();
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\' && i + 3 < value.Length)
            {
                sb.Append((char)Convert.ToInt32(value.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                sb.Append(value[i]);
            }
        }
        return sb.ToString();
    }
}
