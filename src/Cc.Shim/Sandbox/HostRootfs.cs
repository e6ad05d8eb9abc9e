using System.Runtime.InteropServices;
using Cc.Hypervisor.Native;

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

    public Task<SharedContainer> PrepareAsync(string containerId, string bundle, IReadOnlyList<RootfsMount> mounts,
        ReadOnlyMemory<byte> spec, string sharedDirectory, CancellationToken cancellationToken)
    {
        // Planned first: a spec the guest could not use fails before anything is mounted.
        // Submounts are the host's to tell: this daemon's own namespace misses what the host mounted after it started.
        var (guestSpec, shares) = SpecBindMounts.Plan(spec.Span, containerId, sharedDirectory,
            source => HostMountNamespace.Run(() => MountTable.HasSubmounts(source)));
        var target = HostPath(sharedDirectory, containerId);
        System.IO.Directory.CreateDirectory(target);
        switch (mounts.Count)
        {
            case 0:
                // No mounts: the client prepared the root itself and root.path names it (Docker: its overlay2 mount,
                // outside the bundle; ctr --rootfs: a directory), else <bundle>/rootfs. Shared as it is, recursively.
                ShareSpecRoot(SpecRoot.HostPath(spec.Span, bundle), target);
                break;
            case 1:
                MountOne(mounts[0], target);
                break;
            default:
                throw new UnsupportedException($"container {containerId}: {mounts.Count} rootfs mounts; only one is supported");
        }
        foreach (var share in shares)
        {
            ShareBindSource(share);
        }
        return Task.FromResult(new SharedContainer(GuestPath(containerId), guestSpec));
    }

    private static void ShareSpecRoot(string root, string target)
    {
        if (LibC.FileType(root) != LibC.S_IFDIR)
        {
            throw new InvalidRequestException($"root.path {root} is not a directory");
        }
        HostMountNamespace.Bind(root, target, recursive: true);
    }

    /// <summary>
    /// Binds one spec bind-mount source at its place in the share. Only directories and regular files cross a 9p or
    /// virtio-fs share meaningfully (a device node or socket would be the guest's own, not the host's), so anything else
    /// is refused with the reason.
    /// </summary>
    private static void ShareBindSource(BindShare share)
    {
        switch (LibC.FileType(share.HostSource))
        {
            case LibC.S_IFDIR:
                System.IO.Directory.CreateDirectory(share.HostTarget);
                break;
            case LibC.S_IFREG:
                System.IO.Directory.CreateDirectory(Path.GetDirectoryName(share.HostTarget)!);
                File.WriteAllBytes(share.HostTarget, []);
                break;
            case null:
                throw new InvalidRequestException($"bind mount source {share.HostSource} does not exist");
            default:
                throw new UnsupportedException(
                    $"bind mount source {share.HostSource} is not a directory or a regular file; only those can be shared with the VM");
        }
        HostMountNamespace.Bind(share.HostSource, share.HostTarget, share.Recursive, receiveHostMounts: !share.Private);
        if (share.ReadOnly)
        {
            Mount("", share.HostTarget, null, LibC.MS_BIND | LibC.MS_REMOUNT | LibC.MS_RDONLY, null);
        }
    }

    public Task ReleaseAsync(string containerId, string sharedDirectory, CancellationToken cancellationToken)
    {
        Release(containerId, sharedDirectory);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Unmounts everything below the container's directory (rootfs and bind sources; lazily, so a busy guest share does
    /// not block) and removes the directory.
    /// </summary>
    public static void Release(string containerId, string sharedDirectory)
    {
        var containerDirectory = Path.GetDirectoryName(HostPath(sharedDirectory, containerId))!;
        // Deepest first; re-read after each unmount, since detaching an rbind takes its submounts with it. Bounded:
        // a mount that keeps coming back must not spin the shim.
        for (var attempt = 0; attempt < 256; attempt++)
        {
            var left = MountTable.Below(containerDirectory);
            if (left.Count == 0)
            {
                break;
            }
            if (LibC.umount2(left[0], LibC.MNT_DETACH) != 0)
            {
                throw new IOException($"umount {left[0]}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
            }
        }
        if (MountTable.Below(containerDirectory).Count > 0)
        {
            throw new IOException($"{containerDirectory} still has mounts below it; not removing it");
        }
        if (System.IO.Directory.Exists(containerDirectory))
        {
            // Only ever reached with nothing mounted below: deleting through a live mount would delete the image or a
            // bind-mounted host directory.
            System.IO.Directory.Delete(containerDirectory, recursive: true);
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
            HostMountNamespace.Bind(mount.Source, target, recursive);
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

/// <summary>Reads the calling thread's mount table (/proc/thread-self/mountinfo: a thread in the host's namespace,
/// <see cref="HostMountNamespace.Run{T}"/>, sees the host's; every other thread of the daemon sees the daemon's).</summary>
public static class MountTable
{
    public static bool IsMountPoint(string path) => MountPoints().Contains(Path.GetFullPath(path).TrimEnd('/'));

    /// <summary>True when something is mounted strictly below <paramref name="directory"/>.</summary>
    public static bool HasSubmounts(string directory)
    {
        var root = Path.GetFullPath(directory).TrimEnd('/');
        return Below(root).Any(m => m != root);
    }

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
        foreach (var line in File.ReadLines("/proc/thread-self/mountinfo"))
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
