using System.Runtime.InteropServices;

namespace Cc.Agent.Native;

// The libc calls the agent needs and .NET does not expose. Constants are the x86_64/aarch64 Linux
// values (the guest is Linux only). Every call returns -1 and sets errno on failure
// (SetLastPInvokeError), read with Marshal.GetLastPInvokeError().
internal static unsafe partial class LibC
{
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int ENXIO = 6;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int ESRCH = 3;

    public const int O_WRONLY = 1;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;
    // recvmsg flag: received fds are close-on-exec.
    public const int MSG_CMSG_CLOEXEC = 0x40000000;
    public const int SIGKILL = 9;

    public const int PR_SET_CHILD_SUBREAPER = 36;
    public const ulong TIOCSWINSZ = 0x5414;
    public const long SYS_finit_module = 313;
    public const int CLOCK_REALTIME = 0;

    public const ulong MS_NOSUID = 2;
    public const ulong MS_NODEV = 4;
    public const ulong MS_NOEXEC = 8;
    public const ulong MS_RDONLY = 1;
    public const ulong MS_REMOUNT = 32;
    public const ulong MS_BIND = 4096;

    // setpriority(2) `which`: with who = 0 on Linux, the calling thread.
    public const int PRIO_PROCESS = 0;

    public const short POSIX_SPAWN_SETSIGDEF = 0x04;
    public const short POSIX_SPAWN_SETSIGMASK = 0x08;
    public const short POSIX_SPAWN_SETSID = 0x80;

    // glibc's opaque spawn types are 80 (file actions), 336 (attributes) and 128 (sigset_t) bytes
    // on 64-bit; we allocate them with room to spare rather than depend on the exact size.
    public const int SpawnFileActionsSize = 256;
    public const int SpawnAttrSize = 512;
    public const int SigSetSize = 128;

    [StructLayout(LayoutKind.Sequential)]
    public struct WinSize
    {
        public ushort Rows;
        public ushort Columns;
        public ushort XPixels;
        public ushort YPixels;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", SetLastError = true)]
    public static partial int pipe2(int* fds, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint write(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int unlink(string path);

    public const int F_DUPFD_CLOEXEC = 1030;
    public const int F_SETPIPE_SZ = 1031;
    public const int F_GETPIPE_SZ = 1032;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fcntl(int fd, int command, int argument);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int waitpid(int pid, int* status, int options);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int kill(int pid, int signal);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int ioctl(int fd, ulong request, WinSize* size);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int prctl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mount(string source, string target, string fileSystemType, ulong flags, string? data);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int sethostname(byte* name, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setpriority(int which, uint who, int priority);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int umount2(string target, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int clock_settime(int clock, TimeSpec* time);

    [LibraryImport("libc", SetLastError = true)]
    public static partial long syscall(long number, int fd, byte* parameters, int flags);

    // klogctl(SYSLOG_ACTION_READ_ALL): the kernel's log buffer as text, without consuming it.
    public const int SYSLOG_ACTION_READ_ALL = 3;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int klogctl(int type, byte* buffer, int length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint recvmsg(int socket, MsgHdr* message, int flags);

    [LibraryImport("libc")]
    public static partial int posix_spawn(int* pid, byte* path, void* fileActions, void* attributes, byte** argv, byte** envp);

    [LibraryImport("libc")]
    public static partial int posix_spawn_file_actions_init(void* fileActions);

    [LibraryImport("libc")]
    public static partial int posix_spawn_file_actions_destroy(void* fileActions);

    [LibraryImport("libc")]
    public static partial int posix_spawn_file_actions_adddup2(void* fileActions, int fd, int newFd);

    [LibraryImport("libc")]
    public static partial int posix_spawnattr_init(void* attributes);

    [LibraryImport("libc")]
    public static partial int posix_spawnattr_destroy(void* attributes);

    [LibraryImport("libc")]
    public static partial int posix_spawnattr_setflags(void* attributes, short flags);

    [LibraryImport("libc")]
    public static partial int posix_spawnattr_setsigmask(void* attributes, void* sigset);

    [LibraryImport("libc")]
    public static partial int posix_spawnattr_setsigdefault(void* attributes, void* sigset);

    [LibraryImport("libc")]
    public static partial int sigemptyset(void* sigset);

    [LibraryImport("libc")]
    public static partial int sigfillset(void* sigset);

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    public static int LastError => Marshal.GetLastPInvokeError();

    public static string ErrorText(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
}
