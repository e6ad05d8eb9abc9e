using Cc.Hypervisor.Qemu;

namespace Cc.Hypervisor.Tests.Qemu;

/// <summary>Golden argv for whole configurations, against a fixed host so they do not depend on this machine.</summary>
public sealed class QemuCommandLineTests
{
    private static readonly HostCapabilities TcgHostWithQboot = new(KvmUsable: false, QbootPath: "/usr/share/qemu/qboot.rom", TscKhz: 2_100_000, VhostVsock: false);
    private static readonly HostCapabilities KvmHost = new(KvmUsable: true, QbootPath: null, TscKhz: null, VhostVsock: true);

    private const string GuestCommandLine =
        "console=ttyS0 reboot=k panic=-1 quiet mitigations=off tsc=reliable no_timer_check i8042.noaux i8042.nopnp " +
        "8250.nr_uarts=1 cryptomgr.notests swiotlb=noforce rdinit=/init";

    private static VmConfig Config() => new()
    {
        Kernel = new KernelConfig { Path = "/g/vmlinux", InitramfsPath = "/g/initramfs.cpio" },
        RunDirectory = "/run/cc/pod1",
        Shared = new SharedDirectory { HostPath = "/run/cc/pod1-shared" },
    };

    private static IReadOnlyList<string> Build(VmConfig config, HostCapabilities host) =>
        QemuCommandLine.Build(config, RunLayout.For(config), host);

    [Fact]
    public void The_default_config_on_a_TCG_host_is_q35_with_qboot_9p_and_the_virtio_serial_agent_port() =>
        Build(Config(), TcgHostWithQboot).ShouldBe(
        [
            "-name", "cc-pod1", "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
            "-pidfile", "/run/cc/pod1/qemu.pid",
            "-machine", "q35", "-accel", "tcg,tb-size=64",
            "-smp", "1", "-m", "256M",
            "-bios", "/usr/share/qemu/qboot.rom",
            "-kernel", "/g/vmlinux", "-initrd", "/g/initramfs.cpio", "-append", GuestCommandLine + " tsc_early_khz=2100000 cc.log=info cc.port=cc.agent.0",
            "-chardev", "file,id=console,path=/run/cc/pod1/console.log,append=on", "-serial", "chardev:console",
            "-chardev", "socket,id=qmp,path=/run/cc/pod1/qmp.sock,server=on,wait=off", "-mon", "chardev=qmp,mode=control",
            "-device", "virtio-serial-pci,id=agent-serial",
            "-chardev", "socket,id=agent,path=/run/cc/pod1/agent.sock,server=on,wait=off",
            "-device", "virtserialport,bus=agent-serial.0,chardev=agent,id=agent-port,name=cc.agent.0",
            "-fsdev", "local,id=shared,path=/run/cc/pod1-shared,security_model=none,multidevs=remap",
            "-device", "virtio-9p-pci,fsdev=shared,mount_tag=ccshared",
        ]);

    [Fact]
    public void Microvm_uses_virtio_mmio_devices_its_own_firmware_and_tells_the_guest_the_TSC_rate() =>
        Build(Config() with { Machine = MachineType.Microvm, Rng = true, Kernel = Config().Kernel with { AgentLogLevel = "debug" } }, TcgHostWithQboot).ShouldBe(
        [
            "-name", "cc-pod1", "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
            "-pidfile", "/run/cc/pod1/qemu.pid",
            "-machine", "microvm,x-option-roms=off,pit=off,pic=off,isa-serial=on,rtc=on",
            "-global", "virtio-mmio.force-legacy=false", "-accel", "tcg,tb-size=64",
            "-smp", "1", "-m", "256M",
            "-kernel", "/g/vmlinux", "-initrd", "/g/initramfs.cpio",
            "-append", GuestCommandLine + " tsc_early_khz=2100000 cc.log=debug cc.port=cc.agent.0",
            "-chardev", "file,id=console,path=/run/cc/pod1/console.log,append=on", "-serial", "chardev:console",
            "-chardev", "socket,id=qmp,path=/run/cc/pod1/qmp.sock,server=on,wait=off", "-mon", "chardev=qmp,mode=control",
            "-device", "virtio-serial-device,id=agent-serial",
            "-chardev", "socket,id=agent,path=/run/cc/pod1/agent.sock,server=on,wait=off",
            "-device", "virtserialport,bus=agent-serial.0,chardev=agent,id=agent-port,name=cc.agent.0",
            "-fsdev", "local,id=shared,path=/run/cc/pod1-shared,security_model=none,multidevs=remap",
            "-device", "virtio-9p-device,fsdev=shared,mount_tag=ccshared",
            "-object", "rng-random,id=rng,filename=/dev/urandom", "-device", "virtio-rng-device,rng=rng",
        ]);

    [Fact]
    public void A_KVM_host_with_vsock_and_virtio_fs_gets_kvm_the_vsock_device_and_a_shared_memory_backend() =>
        Build(Config() with
        {
            Agent = new VsockTransport(7),
            Vcpus = 2,
            MemoryMiB = 512,
            ConsoleLogPath = "/var/log/cc/pod1.log",
            Shared = new SharedDirectory { HostPath = "/s", Kind = SharedFsKind.VirtioFs },
            ExtraArguments = ["-device", "pvpanic"],
        }, KvmHost).ShouldBe(
        [
            "-name", "cc-pod1", "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
            "-pidfile", "/run/cc/pod1/qemu.pid",
            "-machine", "q35", "-accel", "kvm", "-cpu", "host",
            "-smp", "2", "-m", "512M",
            "-kernel", "/g/vmlinux", "-initrd", "/g/initramfs.cpio", "-append", GuestCommandLine + " cc.log=info cc.vsock=1024",
            "-chardev", "file,id=console,path=/var/log/cc/pod1.log,append=on", "-serial", "chardev:console",
            "-chardev", "socket,id=qmp,path=/run/cc/pod1/qmp.sock,server=on,wait=off", "-mon", "chardev=qmp,mode=control",
            "-device", "vhost-vsock-pci,guest-cid=7",
            "-object", "memory-backend-memfd,id=mem,size=512M,share=on", "-machine", "memory-backend=mem",
            "-chardev", "socket,id=virtiofs,path=/run/cc/pod1/virtiofsd.sock",
            "-device", "vhost-user-fs-pci,chardev=virtiofs,tag=ccshared",
            "-device", "pvpanic",
        ]);

    [Fact]
    public void Auto_firmware_falls_back_to_QEMUs_default_when_qboot_is_not_installed() =>
        Build(Config(), KvmHost).ShouldNotContain("-bios");

    [Fact]
    public void An_explicit_firmware_file_wins_over_qboot() =>
        Build(Config() with { Firmware = Firmware.File("/fw/bios.bin") }, TcgHostWithQboot).ShouldContain("/fw/bios.bin");

    [Fact]
    public void QEMUs_default_firmware_can_be_chosen_even_when_qboot_is_installed() =>
        Build(Config() with { Firmware = Firmware.QemuDefault }, TcgHostWithQboot).ShouldNotContain("-bios");

    [Fact]
    public void Kernel_parameters_from_the_config_come_after_ours_so_that_they_win() =>
        KernelCommandLine.Build(Config() with { Kernel = Config().Kernel with { ExtraParameters = ["quiet=0", "debug"] } }, TcgHostWithQboot)
            .ShouldEndWith("cc.port=cc.agent.0 quiet=0 debug");

    [Theory]
    [InlineData(MachineType.Q35)]
    [InlineData(MachineType.Microvm)]
    public void Every_machine_type_is_told_the_host_TSC_rate_when_it_is_known_and_left_to_calibrate_when_not(MachineType machine)
    {
        KernelCommandLine.Build(Config() with { Machine = machine }, TcgHostWithQboot).Split(' ').ShouldContain("tsc_early_khz=2100000");
        KernelCommandLine.Build(Config() with { Machine = machine }, KvmHost).ShouldNotContain("tsc_early_khz");
    }

    [Fact]
    public void Asking_for_KVM_where_it_is_not_usable_is_a_config_error_that_says_why() =>
        Should.Throw<VmConfigException>(() => Build(Config() with { Accel = Accelerator.Kvm }, TcgHostWithQboot))
            .Message.ShouldContain("KVM is not usable");

    [Fact]
    public void Auto_acceleration_picks_KVM_only_where_it_is_usable()
    {
        QemuCommandLine.ResolveAccel(Accelerator.Auto, KvmHost).ShouldBe(Accelerator.Kvm);
        QemuCommandLine.ResolveAccel(Accelerator.Auto, TcgHostWithQboot).ShouldBe(Accelerator.Tcg);
        QemuCommandLine.ResolveAccel(Accelerator.Tcg, KvmHost).ShouldBe(Accelerator.Tcg);
    }
}
