using System.Runtime.InteropServices;
using Cc.Hypervisor.Native;
using Microsoft.Win32.SafeHandles;

namespace Cc.Shim.Sandbox;

/// <summary>
/// The shim daemon runs in a mount namespace of its own (docs/kubernetes.md, "The pod's mounts"): <c>start</c> spawns it
/// from a thread that unshared one, every mount in it a slave of the host's (<see cref="SpawnInPrivateNamespace"/>). So the
/// rootfs and volume mounts the daemon makes in the pod's share exist only there and in QEMU, its child: the host's
/// mount table never holds them, a host directory below a volume's source can be unmounted and removed while the pod
/// runs (as with runc, whose container mounts are in the container's namespace), and the mounts end with the daemon
/// and QEMU even when nothing cleans up.
/// </summary>
/// <remarks>
/// Bind sources are still the host's (containerd's namespace, which <c>start</c> ran in): a mount the host makes after
/// the daemon started (a volume's tmpfs) reaches the daemon's namespace only when the host's mount is shared, which a
/// node's root need not be. So every bind is copied in the host's namespace (open_tree on a fresh thread that entered
/// it, <see cref="Run{T}"/>) and attached in the daemon's (move_mount), and questions about the host's mount table
/// (<see cref="MountTable.HasSubmounts"/>) are asked there too.
/// </remarks>
public static class HostMountNamespace
{
    /// <summary>The fd number the daemon finds the host's mount namespace on (start's <c>/proc/self/ns/mnt</c>).</summary>
    public const int InheritedFd = 4;

    /// <summary>The host's namespace; null when this process runs in it (no daemon, or one not spawned by start).</summary>
    private static SafeFileHandle? s_host;

    /// <summary>
    /// Daemon start-up: keeps <see cref="InheritedFd"/> (close-on-exec from now on: no child needs it) when it is a mount
    /// namespace. A daemon spawned without it runs in the host's namespace itself.
    /// </summary>
    public static void Adopt()
    {
        string? target;
        try
        {
            target = new FileInfo($"/proc/self/fd/{InheritedFd}").LinkTarget;
        }
        catch (IOException)
        {
            target = null;
        }
        if (target is null || !target.StartsWith("mnt:[", StringComparison.Ordinal))
        {
            return;
        }
        LibC.SetCloseOnExec(InheritedFd);
        s_host = new SafeFileHandle(InheritedFd, ownsHandle: true);
    }

    /// <summary>
    /// Runs <paramref name="spawn"/> on a fresh thread that first moved to a new mount namespace with every mount a slave
    /// of the host's (it receives the host's mounts and unmounts, never sends its own), and hands the child fd 4, this
    /// process's (the host's) mount namespace. posix_spawn's child inherits the namespace of the thread that spawns it;
    /// the thread ends right after, so nothing else of this process runs in that namespace.
    /// </summary>
    public static T SpawnInPrivateNamespace<T>(Func<SafeFileHandle, T> spawn)
    {
        var fd = LibC.open("/proc/self/ns/mnt", LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new IOException($"open /proc/self/ns/mnt: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
        }
        using var host = new SafeFileHandle(fd, ownsHandle: true);
        return OnFreshThread("cc-mntns", () =>
        {
            if (LibC.unshare(LibC.CLONE_NEWNS) != 0)
            {
                throw new IOException($"unshare(CLONE_NEWNS) for the shim daemon: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
            }
            if (LibC.mount("none", "/", null, LibC.MS_REC | LibC.MS_SLAVE, null) != 0)
            {
                throw new IOException($"make / rslave in the shim daemon's mount namespace: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
            }
            return spawn(host);
        });
    }

    /// <summary>
    /// Runs <paramref name="work"/> in the host's mount namespace: on a fresh thread that entered it (setns needs a
    /// thread with a file-system context of its own, hence unshare(CLONE_FS) first), or here when this process is in
    /// the host's namespace already.
    /// </summary>
    public static T Run<T>(Func<T> work)
    {
        var host = s_host;
        if (host is null)
        {
            return work();
        }
        return OnFreshThread("cc-hostns", () =>
        {
            if (LibC.unshare(LibC.CLONE_FS) != 0)
            {
                throw new IOException($"unshare(CLONE_FS): {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
            }
            if (LibC.setns(checked((int)host.DangerousGetHandle()), LibC.CLONE_NEWNS) != 0)
            {
                throw new IOException($"setns to the host's mount namespace: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
            }
            return work();
        });
    }

    /// <summary>
    /// Binds the host's <paramref name="source"/> (with its submounts when <paramref name="recursive"/>) at
    /// <paramref name="target"/> in this process's namespace: a detached copy made where the source is the host's, then
    /// attached here as a slave when <paramref name="receiveHostMounts"/> (a later host mount below a shared source still
    /// appears), else private (runc's <c>rprivate</c>); nothing made here ever goes back to the host.
    /// </summary>
    public static void Bind(string source, string target, bool recursive, bool receiveHostMounts = true)
    {
        var tree = Run(() =>
        {
            var flags = LibC.OPEN_TREE_CLONE | LibC.OPEN_TREE_CLOEXEC | (recursive ? LibC.AT_RECURSIVE : 0);
            var fd = LibC.open_tree(LibC.AT_FDCWD, source, flags);
            return fd < 0
                ? throw new IOException($"bind {source}: open_tree: {LibC.ErrorText(Marshal.GetLastPInvokeError())}")
                : new SafeFileHandle(fd, ownsHandle: true);
        });
        using (tree)
        {
            if (LibC.move_mount(checked((int)tree.DangerousGetHandle()), "", LibC.AT_FDCWD, target, LibC.MOVE_MOUNT_F_EMPTY_PATH) != 0)
            {
                throw new IOException($"bind {source} on {target}: move_mount: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
            }
        }
        var propagation = receiveHostMounts ? LibC.MS_SLAVE : LibC.MS_PRIVATE;
        if (LibC.mount("none", target, null, LibC.MS_REC | propagation, null) != 0)
        {
            throw new IOException($"set the propagation of {target}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
        }
    }

    // A thread of its own, never a pool thread: namespace changes last for the thread's life, and it ends right after.
    private static T OnFreshThread<T>(string name, Func<T> work)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = work();
            }
            catch (Exception e)
            {
                failure = e;
            }
        })
        { IsBackground = true, Name = name };
        thread.Start();
        thread.Join();
        return failure is not null ? throw failure : result;
    }
}
