namespace Cc.Shim.Sandbox;

/// <summary>
/// The room a VM needs under run_dir before it boots: its QMP and agent sockets, QEMU's pid file, vmm.pid, network.json
/// and the console log. Without it QEMU fails with "cannot create PID file", which names neither the directory nor
/// the cause; checking first turns a full disk into an error that names both, and nothing is made.
/// </summary>
public static class RunDirectorySpace
{
    /// <summary>At least this much must be free: a boot's console log is tens of KiB, the small files a few KiB.</summary>
    public const long MinimumFreeBytes = 1024 * 1024;

    /// <summary>Fails with FailedPrecondition when the filesystem of <paramref name="runDirectory"/> has too little room.</summary>
    public static void Require(string runDirectory)
    {
        long free;
        try
        {
            // statvfs(2) of the path: the free space of whatever filesystem holds it (a tmpfs run_dir, the root disk).
            free = new DriveInfo(runDirectory).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return; // unknown room: the launch itself reports what fails
        }
        if (free < MinimumFreeBytes)
        {
            throw new PreconditionFailedException(
                $"run_dir {runDirectory}: No space left on device ({free} bytes free; a VM needs at least {MinimumFreeBytes} for its sockets, pid files and console log)");
        }
    }
}
