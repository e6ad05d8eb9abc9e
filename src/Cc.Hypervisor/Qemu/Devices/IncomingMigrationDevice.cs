namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>
/// -incoming defer: QEMU builds the machine and waits, vCPUs stopped, until QMP's migrate-incoming names where the
/// state comes from (QEMU 7.2 has no file: transport; the state is read through exec:cat).
/// </summary>
public sealed record IncomingMigrationDevice : IQemuDevice
{
    public IReadOnlyList<string> Arguments() => ["-incoming", "defer"];
}
