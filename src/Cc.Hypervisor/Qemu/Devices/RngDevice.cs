namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>virtio-rng fed from the host's /dev/urandom, so the guest's entropy pool fills at boot.</summary>
public sealed record RngDevice(VirtioBus Bus) : IQemuDevice
{
    public IReadOnlyList<string> Arguments() =>
        ["-object", "rng-random,id=rng,filename=/dev/urandom", "-device", $"{QemuOption.Virtio("virtio-rng", Bus)},rng=rng"];
}
