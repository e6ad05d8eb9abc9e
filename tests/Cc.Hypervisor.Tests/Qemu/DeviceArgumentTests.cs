using Cc.Hypervisor.Qemu.Devices;

namespace Cc.Hypervisor.Tests.Qemu;

/// <summary>Golden argv per device: each device class yields exactly these arguments.</summary>
public sealed class DeviceArgumentTests
{
    [Fact]
    public void Process_defaults_start_QEMU_from_nothing_and_turn_a_reboot_into_an_exit() =>
        new ProcessDefaults("cc-pod1").Arguments().ShouldBe(
            ["-name", "cc-pod1", "-nodefaults", "-no-user-config", "-nographic", "-no-reboot"]);

    [Fact]
    public void Q35_under_TCG_caps_the_translation_cache() =>
        new MachineDevice(MachineType.Q35, Accelerator.Tcg, 64).Arguments().ShouldBe(
            ["-machine", "q35", "-accel", "tcg,tb-size=64"]);

    [Fact]
    public void Q35_under_KVM_passes_the_host_CPU_through() =>
        new MachineDevice(MachineType.Q35, Accelerator.Kvm, 64).Arguments().ShouldBe(
            ["-machine", "q35", "-accel", "kvm", "-cpu", "host"]);

    [Fact]
    public void Microvm_drops_option_roms_and_the_legacy_timers_keeps_its_serial_port_and_uses_modern_virtio_mmio() =>
        new MachineDevice(MachineType.Microvm, Accelerator.Tcg, 32).Arguments().ShouldBe(
        [
            "-machine", "microvm,x-option-roms=off,pit=off,pic=off,isa-serial=on,rtc=on",
            "-global", "virtio-mmio.force-legacy=false", "-accel", "tcg,tb-size=32",
        ]);

    [Fact]
    public void An_unresolved_accelerator_cannot_reach_the_command_line() =>
        Should.Throw<VmConfigException>(() => new MachineDevice(MachineType.Q35, Accelerator.Auto, 64).Arguments())
            .Message.ShouldContain("resolved");

    [Fact]
    public void Cpu_and_memory_are_smp_and_megabytes() =>
        new CpuMemoryDevice(2, 512).Arguments().ShouldBe(["-smp", "2", "-m", "512M"]);

    [Fact]
    public void Firmware_is_a_bios_file() =>
        new FirmwareDevice("/usr/share/qemu/qboot.rom").Arguments().ShouldBe(["-bios", "/usr/share/qemu/qboot.rom"]);

    [Fact]
    public void Kernel_boot_passes_kernel_initramfs_and_the_command_line_as_one_argument() =>
        new KernelBootDevice("/g/vmlinux", "/g/init.cpio", "console=ttyS0 quiet").Arguments().ShouldBe(
            ["-kernel", "/g/vmlinux", "-initrd", "/g/init.cpio", "-append", "console=ttyS0 quiet"]);

    [Fact]
    public void The_serial_console_appends_to_the_log_file() =>
        new SerialConsoleDevice("/run/cc/p/console.log").Arguments().ShouldBe(
            ["-chardev", "file,id=console,path=/run/cc/p/console.log,append=on", "-serial", "chardev:console"]);

    [Fact]
    public void QMP_listens_on_a_unix_socket_without_waiting_for_a_client() =>
        new QmpSocketDevice("/run/cc/p/qmp.sock").Arguments().ShouldBe(
            ["-chardev", "socket,id=qmp,path=/run/cc/p/qmp.sock,server=on,wait=off", "-mon", "chardev=qmp,mode=control"]);

    [Fact]
    public void Commas_in_paths_are_doubled_as_QEMU_option_syntax_requires() =>
        new QmpSocketDevice("/run/a,b/qmp.sock").Arguments()[1].ShouldBe("socket,id=qmp,path=/run/a,,b/qmp.sock,server=on,wait=off");

    [Fact]
    public void The_agent_port_is_a_named_virtserialport_on_its_own_controller_backed_by_a_listening_socket() =>
        new VirtioSerialAgentDevice(VirtioBus.Pci, "/run/cc/p/agent.sock", "cc.agent.0").Arguments().ShouldBe(
        [
            "-device", "virtio-serial-pci,id=agent-serial",
            "-chardev", "socket,id=agent,path=/run/cc/p/agent.sock,server=on,wait=off",
            "-device", "virtserialport,bus=agent-serial.0,chardev=agent,id=agent-port,name=cc.agent.0",
        ]);

    [Fact]
    public void On_virtio_mmio_the_agent_controller_is_the_device_flavour() =>
        new VirtioSerialAgentDevice(VirtioBus.Mmio, "/r/agent.sock", "cc.agent.0").Arguments()[1].ShouldBe("virtio-serial-device,id=agent-serial");

    [Fact]
    public void The_9p_share_uses_the_local_fsdev_without_credential_mapping() =>
        new NinePShareDevice(VirtioBus.Pci, "/run/cc/p/shared", "ccshared").Arguments().ShouldBe(
        [
            "-fsdev", "local,id=shared,path=/run/cc/p/shared,security_model=none,multidevs=remap",
            "-device", "virtio-9p-pci,fsdev=shared,mount_tag=ccshared",
        ]);

    [Fact]
    public void The_virtio_fs_share_makes_guest_RAM_a_shared_memfd_of_the_same_size() =>
        new VirtioFsShareDevice(VirtioBus.Pci, "/r/virtiofsd.sock", "ccshared", 256).Arguments().ShouldBe(
        [
            "-object", "memory-backend-memfd,id=mem,size=256M,share=on",
            "-machine", "memory-backend=mem",
            "-chardev", "socket,id=virtiofs,path=/r/virtiofsd.sock",
            "-device", "vhost-user-fs-pci,chardev=virtiofs,tag=ccshared",
        ]);

    [Fact]
    public void Vsock_sets_the_guest_context_id() =>
        new VsockDevice(VirtioBus.Mmio, 42).Arguments().ShouldBe(["-device", "vhost-vsock-device,guest-cid=42"]);

    [Fact]
    public void Rng_feeds_the_guest_from_urandom() =>
        new RngDevice(VirtioBus.Pci).Arguments().ShouldBe(
            ["-object", "rng-random,id=rng,filename=/dev/urandom", "-device", "virtio-rng-pci,rng=rng"]);

    [Fact]
    public void The_pid_file_names_QEMU_for_a_cleanup_after_a_crash() =>
        new PidFileDevice("/run/cc/p/qemu.pid").Arguments().ShouldBe(["-pidfile", "/run/cc/p/qemu.pid"]);

    [Fact]
    public void Raw_arguments_pass_through_verbatim() =>
        new RawArguments(["-device", "pvpanic"]).Arguments().ShouldBe(["-device", "pvpanic"]);
}
