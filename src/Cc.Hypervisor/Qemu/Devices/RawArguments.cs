namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>Arguments passed through verbatim (VmConfig.ExtraArguments), for devices not modelled yet.</summary>
public sealed record RawArguments(IReadOnlyList<string> Values) : IQemuDevice
{
    public IReadOnlyList<string> Arguments() => Values;
}
