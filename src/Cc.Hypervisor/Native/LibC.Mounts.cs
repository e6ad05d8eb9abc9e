using System.Runtime.InteropServices;

namespace Cc.Hypervisor.Native;

// The calls the shim's private mount namespace needs (Cc.Shim/Sandbox/HostMountNamespace.cs): a mount namespace of its
// own for the daemon, entering the host's on one thread, and copying a host mount tree into the daemon's namespace
// (open_tree/move_mount, Linux 5.2). Values from linux/sched.h, linux/mount.h and fcntl.h; the syscall numbers of
// open_tree and move_mount are the same on x86_64 and aarch64 (the unified table from 5.1 on).
public static partial class LibC
{
    public const int CLONE_FS = 0x00000200;
    public const int CLONE_NEWNS = 0x00020000;

    public const ulong MS_PRIVATE = 1 << 18;
    public const ulong MS_SLAVE = 1 << 19;

    public const uint OPEN_TREE_CLONE = 1;
    public const uint OPEN_TREE_CLOEXEC = O_CLOEXEC;
    public const uint AT_EMPTY_PATH = 0x1000;
    public const uint AT_RECURSIVE = 0x8000;
    public const uint MOVE_MOUNT_F_EMPTY_PATH = 0x4;
    public const int AT_FDCWD = -100;

    private const long SysOpenTree = 428;
    private const long SysMoveMount = 429;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int unshare(int flags);

    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial long syscall_open_tree(long number, int dirFd, string path, uint flags);

    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial long syscall_move_mount(long number, int fromDirFd, string fromPath, int toDirFd, string toPath, uint flags);

    /// <summary>open_tree(2): with <see cref="OPEN_TREE_CLONE"/>, a detached copy of the mount at <paramref name="path"/>
    /// (with <see cref="AT_RECURSIVE"/> its submounts too), as a descriptor; -1 and errno on failure.</summary>
    public static int open_tree(int dirFd, string path, uint flags) => (int)syscall_open_tree(SysOpenTree, dirFd, path, flags);

    /// <summary>move_mount(2): attaches the detached tree <paramref name="fromDirFd"/> (with <see cref="MOVE_MOUNT_F_EMPTY_PATH"/>
    /// and an empty <paramref name="fromPath"/>) at <paramref name="toPath"/> in the caller's mount namespace.</summary>
    public static int move_mount(int fromDirFd, string fromPath, int toDirFd, string toPath, uint flags) =>
        (int)syscall_move_mount(SysMoveMount, fromDirFd, fromPath, toDirFd, toPath, flags);
}
