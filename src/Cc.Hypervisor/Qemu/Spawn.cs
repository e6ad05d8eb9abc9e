using Cc.Hypervisor.Processes;

namespace Cc.Hypervisor.Qemu;

/// <summary>Starts a VM helper (QEMU, virtiofsd); a failed spawn is a <see cref="VmStartException"/>.</summary>
internal static class Spawn
{
    public static ChildProcess Helper(SpawnOptions options)
    {
        try
        {
            return ChildSpawner.Spawn(options);
        }
        catch (ChildSpawnException ex)
        {
            throw new VmStartException(ex.Message, "", ex);
        }
    }
}
