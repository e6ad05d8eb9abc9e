using System.Runtime.InteropServices;
using Cc.Hypervisor.Native;
using Microsoft.Win32.SafeHandles;

namespace Cc.Shim.Lifetime;

/// <summary>
/// The daemon's log (protocol.md §2.5): the bundle's <c>log</c> FIFO, which containerd keeps open for reading and copies
/// into its own log. It also becomes fd 2, so a runtime crash message lands in containerd's log too.
/// </summary>
public static class LogFifo
{
    private const int F_GETFL = 3;
    private const int F_SETFL = 4;

    /// <summary>
    /// Opens <c>&lt;bundle&gt;/log</c> for writing and dup2's it over stderr. Null when there is no FIFO or no reader
    /// (a manual run): the daemon then logs nowhere rather than blocking on an open nobody answers.
    /// </summary>
    public static Stream? Open(string bundle)
    {
        var path = Path.Combine(bundle, Cli.BundleFiles.Log);
        // Non-blocking so a FIFO without a reader fails (ENXIO) instead of hanging; blocking again for writes so a
        // full pipe slows logging down instead of failing it.
        var fd = LibC.open(path, LibC.O_WRONLY | LibC.O_NONBLOCK | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return null;
        }
        var flags = LibC.fcntl(fd, F_GETFL, 0);
        if (flags >= 0)
        {
            LibC.fcntl(fd, F_SETFL, flags & ~LibC.O_NONBLOCK);
        }
        if (LibC.dup2(fd, 2) < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            LibC.close(fd);
            throw new IOException($"dup2 log FIFO over stderr: {LibC.ErrorText(errno)}");
        }
        // dup2 clears FD_CLOEXEC on fd 2. The spawner always gives a child its own 0/1/2, so this is the rule made
        // explicit rather than a leak closed: no exec'ed program keeps containerd's log FIFO open.
        LibC.SetCloseOnExec(2);
        return new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write, bufferSize: 0);
    }

    /// <summary>
    /// Makes the daemon the reaper of its orphaned descendants (QEMU helpers), as the reference shim does; the daemon's
    /// <see cref="OrphanReaper"/> then reaps them.
    /// </summary>
    public static void BecomeSubreaper()
    {
        if (LibC.prctl(LibC.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
        {
            throw new IOException($"prctl(PR_SET_CHILD_SUBREAPER): {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
        }
    }
}
