using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Cc.Hypervisor.Native;

/// <summary>
/// The host side's one libc surface (the shim and the hypervisor driver): the calls .NET does not expose — posix_spawn
/// with file actions, waitid/waitpid for one pid, pipe2, fcntl, prctl, mount. Constants are glibc x86_64/aarch64 values
/// (Linux only; the shim runs nowhere else). The guest agent has its own (src/Cc.Agent/Native): it runs in the guest.
/// Rule: every descriptor opened here is O_CLOEXEC; a child receives descriptors only through the spawner's fd map.
/// </summary>
public static partial class LibC
{
    private const string Lib = "libc";

    public const int O_RDONLY = 0;
    public const int O_WRONLY = 1;
    public const int O_RDWR = 2;
    public const int O_CREAT = 0x40;
    public const int O_APPEND = 0x400;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    public const int F_GETFD = 1;
    public const int F_SETFD = 2;
    public const int FD_CLOEXEC = 1;
    public const int F_DUPFD_CLOEXEC = 1030;

    public const int EINTR = 4;
    public const int ECHILD = 10;
    public const int ESRCH = 3;

    public const int EBADF = 9;

    public const int WNOHANG = 1;
    public const int WEXITED = 4;
    public const int WNOWAIT = 0x01000000;
    public const int P_PID = 1;

    /// <summary>siginfo_t is 128 bytes on Linux.</summary>
    public const int SigInfoBytes = 128;

    public const short POLLIN = 0x1;

    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    public const int PR_SET_CHILD_SUBREAPER = 36;

    public const short POSIX_SPAWN_SETPGROUP = 0x02;
    public const short POSIX_SPAWN_SETSIGDEF = 0x04;
    public const short POSIX_SPAWN_SETSIGMASK = 0x08;

    /// <summary>glibc's posix_spawn_file_actions_t is 80 bytes and posix_spawnattr_t 336; we allocate with headroom.</summary>
    public const int SpawnStructBytes = 1024;

    /// <summary>glibc's sigset_t is 128 bytes.</summary>
    public const int SigSetBytes = 128;

    [LibraryImport(Lib, SetLastError = true)]
    public static unsafe partial int posix_spawn(out int pid, byte* path, void* fileActions, void* attr, byte** argv, byte** envp);

    [LibraryImport(Lib)]
    public static unsafe partial int posix_spawn_file_actions_init(void* fileActions);

    [LibraryImport(Lib)]
    public static unsafe partial int posix_spawn_file_actions_destroy(void* fileActions);

    [LibraryImport(Lib)]
    public static unsafe partial int posix_spawn_file_actions_addopen(void* fileActions, int fd, byte* path, int oflag, int mode);

    [LibraryImport(Lib)]
    public static unsafe partial int posix_spawn_file_actions_adddup2(void* fileActions, int fd, int newFd);

    [LibraryImport(Lib)]
    public static unsafe partial int posix_spawn_file_actions_addclose(void* fileActions, int fd);

    /// <summary>glibc 2.34+: the child closes every descriptor at or above <paramref name="from"/> (close_range).</summary>
    [LibraryImport(Lib)]
    public static unsafe partial int posix_spawn_file_actions_addclosefrom_np(void* fileActions, int from);

    [LibraryImport(Lib)]
    public static unsafe partial int posix_spawnattr_init(void* attr);

    [LibraryImport(Lib)]
    public static unsafe partial int posix_spawnattr_destroy(void* attr);

    [LibraryImport(Lib)]
    public static unsafe partial int posix_spawnattr_setflags(void* attr, short flags);

    [LibraryImport(Lib)]
    public static unsafe partial int posix_spawnattr_setpgroup(void* attr, int pgroup);

    [LibraryImport(Lib)]
    public static unsafe partial int posix_spawnattr_setsigmask(void* attr, void* sigset);

    [LibraryImport(Lib)]
    public static unsafe partial int posix_spawnattr_setsigdefault(void* attr, void* sigset);

    [LibraryImport(Lib)]
    public static unsafe partial int sigemptyset(void* sigset);

    [LibraryImport(Lib)]
    public static unsafe partial int sigaddset(void* sigset, int signal);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fcntl(int fd, int cmd, int arg);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags, int mode);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int chmod(string path, int mode);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int dup2(int oldFd, int newFd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mkfifo(string path, int mode);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int kill(int pid, int signal);

    [LibraryImport(Lib, SetLastError = true)]
    public static unsafe partial int pipe2(int* fds, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static unsafe partial int waitpid(int pid, int* status, int options);

    [LibraryImport(Lib, SetLastError = true)]
    public static unsafe partial int waitid(int idType, int id, void* info, int options);

    [LibraryImport(Lib, SetLastError = true)]
    public static unsafe partial int poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport(Lib, SetLastError = true)]
    public static unsafe partial nint read(int fd, byte* buffer, nuint count);

    /// <summary>struct pollfd.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport(Lib)]
    public static partial int getpgid(int pid);

    public const ulong MS_RDONLY = 0x1;
    public const ulong MS_NOSUID = 0x2;
    public const ulong MS_NODEV = 0x4;
    public const ulong MS_NOEXEC = 0x8;
    public const ulong MS_REMOUNT = 0x20;
    public const ulong MS_NOATIME = 0x400;
    public const ulong MS_NODIRATIME = 0x800;
    public const ulong MS_BIND = 0x1000;
    public const ulong MS_REC = 0x4000;
    public const ulong MS_RELATIME = 0x200000;
    public const ulong MS_STRICTATIME = 0x1000000;
    public const int MNT_DETACH = 2;

    [LibraryImport(Lib, EntryPoint = "stat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int stat_(string path, byte* buffer);

    public const uint S_IFMT = 0xF000;
    public const uint S_IFREG = 0x8000;
    public const uint S_IFDIR = 0x4000;

    /// <summary>
    /// The file-type bits of <c>stat(path).st_mode</c> (follows symlinks), or null when stat fails. st_mode sits at
    /// byte 24 of x86_64's struct stat and at byte 16 of the generic layout aarch64 uses; the buffer has headroom.
    /// </summary>
    public static unsafe uint? FileType(string path)
    {
        var buffer = stackalloc byte[256];
        if (stat_(path, buffer) != 0)
        {
            return null;
        }
        var offset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 24 : 16;
        return *(uint*)(buffer + offset) & S_IFMT;
    }

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mount(string source, string target, string? fsType, ulong flags, string? data);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int umount2(string target, int flags);

    /// <summary>Opens <paramref name="path"/> for appending (O_APPEND: every write lands at the end, whoever else
    /// appends), creating it with mode 0640. FileMode.Append only seeks to the end once.</summary>
    public static SafeFileHandle OpenAppend(string path)
    {
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0b110_100_000);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"open {path} for append failed: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Sets FD_CLOEXEC on <paramref name="fd"/> (a descriptor inherited without it, such as the daemon's fd 3).</summary>
    public static void SetCloseOnExec(int fd)
    {
        int flags = fcntl(fd, F_GETFD, 0);
        if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
        {
            throw new IOException($"fcntl(F_SETFD, FD_CLOEXEC) on fd {fd}: {ErrorText(Marshal.GetLastPInvokeError())}");
        }
    }

    /// <summary>True when FD_CLOEXEC is set on <paramref name="fd"/>.</summary>
    public static bool IsCloseOnExec(int fd) => (fcntl(fd, F_GETFD, 0) & FD_CLOEXEC) != 0;

    public static string ErrorText(int errno) => Marshal.GetPInvokeErrorMessage(errno) + $" (errno {errno})";
}
