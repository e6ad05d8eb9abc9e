using Cc.Hypervisor.Native;
using Cc.Shim.Sandbox;

namespace Cc.Shim.Lifetime;

/// <summary>
/// Removal of a sandbox's run directory (&lt;run_dir&gt;/&lt;ns&gt;/&lt;sandbox&gt;: shared/, console.log, vmm.pid,
/// network.json, vm/). The daemon calls it as it exits, after the VM stopped and every rootfs was released;
/// <c>shim delete</c> calls it after a crashed daemon. Invariant: a directory is deleted only when nothing is mounted at
/// or below it any more, so a host directory bind-mounted into the share is never deleted through it.
/// </summary>
public static class RunDirectoryCleanup
{
    /// <summary>
    /// Detaches whatever is still mounted below <paramref name="path"/> (deepest first) and deletes the directory.
    /// Returns what kept it, or null when it is gone (or never existed).
    /// </summary>
    public static string? TryRemove(string path)
    {
        if (!Directory.Exists(path))
        {
            return null;
        }
        foreach (var mountPoint in MountTable.Below(path))
        {
            LibC.umount2(mountPoint, LibC.MNT_DETACH);
        }
        var left = MountTable.Below(path);
        if (left.Count > 0)
        {
            return $"still mounted: {string.Join(", ", left)}";
        }
        try
        {
            Directory.Delete(path, recursive: true);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }
    }
}
