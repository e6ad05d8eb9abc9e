namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>
/// The machine and its accelerator. Under TCG the translation cache is capped (the 1 GiB default
/// costs RSS and boot time). microvm gets no option ROMs, no legacy PIT/PIC (the guest uses the
/// TSC and the local APIC) and keeps its ISA serial for the console. Its virtio-mmio transports are
/// made modern (virtio 1.x): QEMU defaults them to legacy, which vhost-user backends such as
/// virtiofsd refuse.
/// </summary>
public sealed record MachineDevice(MachineType Machine, Accelerator Accel, int TcgTranslationCacheMiB) : IQemuDevice
{
    public IReadOnlyList<string> Arguments()
    {
        string machine = Machine switch
        {
            MachineType.Q35 => "q35",
            MachineType.Microvm => "microvm,x-option-roms=off,pit=off,pic=off,isa-serial=on,rtc=on",
            _ => throw new VmConfigException($"unknown machine type {Machine}"),
        };
        string[] accel = Accel switch
        {
            Accelerator.Kvm => ["-accel", "kvm", "-cpu", "host"],
            Accelerator.Tcg => ["-accel", $"tcg,tb-size={TcgTranslationCacheMiB}"],
            _ => throw new VmConfigException($"accelerator {Accel} must be resolved to kvm or tcg before building the command line"),
        };
        string[] transport = Machine == MachineType.Microvm ? ["-global", "virtio-mmio.force-legacy=false"] : [];
        return ["-machine", machine, .. transport, .. accel];
    }
}
