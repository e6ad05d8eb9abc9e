using Microsoft.Win32.SafeHandles;

namespace Cc.Agent.Native;

// File-descriptor helpers. Every fd we create is O_CLOEXEC so that only the fds a spawn dup2's
// explicitly reach a child.
internal static unsafe class Fd
{
    // Returns (read end, write end), both close-on-exec.
    public static (SafeFileHandle Read, SafeFileHandle Write) CreatePipe()
    {
        var fds = stackalloc int[2];
        if (LibC.pipe2(fds, LibC.O_CLOEXEC) != 0)
        {
            throw new IOException($"pipe2: {LibC.ErrorText(LibC.LastError)}");
        }

        return (new SafeFileHandle(fds[0], ownsHandle: true), new SafeFileHandle(fds[1], ownsHandle: true));
    }

    // Grows a pipe's buffer to `bytes` (the kernel rounds up to a power-of-two number of pages); returns the size it
    // has afterwards. A failure (above /proc/sys/fs/pipe-max-size without CAP_SYS_RESOURCE, or out of the user's pipe
    // quota) leaves the pipe as it was: the size is an optimisation, never a requirement.
    public static int TryGrowPipe(SafeFileHandle pipe, int bytes)
    {
        LibC.fcntl(Raw(pipe), LibC.F_SETPIPE_SZ, bytes);
        return LibC.fcntl(Raw(pipe), LibC.F_GETPIPE_SZ, 0);
    }

    public static SafeFileHandle OpenDevNull(FileAccess access) =>
        File.OpenHandle("/dev/null", FileMode.Open, access);

    public static int Raw(SafeFileHandle handle) => (int)handle.DangerousGetHandle();

    // A close-on-exec duplicate, so a concurrent spawn cannot inherit it.
    public static int DupCloexec(SafeFileHandle handle)
    {
        var fd = LibC.fcntl(Raw(handle), LibC.F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
        {
            throw new IOException($"fcntl(F_DUPFD_CLOEXEC): {LibC.ErrorText(LibC.LastError)}");
        }

        return fd;
    }
}
