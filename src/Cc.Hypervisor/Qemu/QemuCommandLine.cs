using Cc.Hypervisor.Processes;
using Cc.Hypervisor.Qemu.Devices;

namespace Cc.Hypervisor.Qemu;

/// <summary>
/// Turns a <see cref="VmConfig"/> into QEMU's argv: the Auto choices are resolved against the host,
/// then each device contributes its arguments in a fixed order. Pure: same inputs, same argv.
/// </summary>
public static class QemuCommandLine
{
    /// <summary>The devices for <paramref name="config"/>, in argv order.</summary>
    public static IReadOnlyList<IQemuDevice> Devices(VmConfig config, RunLayout layout, HostCapabilities host)
    {
        VirtioBus bus = config.Machine == MachineType.Microvm ? VirtioBus.Mmio : VirtioBus.Pci;
        List<IQemuDevice> devices =
        [
            new ProcessDefaults("cc-" + Path.GetFileName(Path.TrimEndingDirectorySeparator(layout.Directory))),
            new PidFileDevice(layout.PidFile),
            new MachineDevice(config.Machine, ResolveAccel(config.Accel, host), config.TcgTranslationCacheMiB),
            new CpuMemoryDevice(config.Vcpus, config.MemoryMiB, config.MaxVcpus, config.MaxMemoryMiB),
        ];
        if (HotplugMemoryMiB(config) is > 0 and var hotplugMiB)
        {
            devices.Add(new VirtioMemDevice(hotplugMiB, config.Shared?.Kind == SharedFsKind.VirtioFs));
        }
        if (config.MemoryFile is { } memory)
        {
            devices.Add(new MemoryFileDevice(memory.Path, memory.Shared, config.MemoryMiB));
        }
        if (ResolveFirmware(config, host) is { } firmware)
        {
            devices.Add(new FirmwareDevice(firmware));
        }
        devices.Add(new KernelBootDevice(config.Kernel.Path, config.Kernel.InitramfsPath, KernelCommandLine.Build(config, host)));
        devices.Add(new SerialConsoleDevice(layout.ConsoleLogPath));
        devices.Add(new QmpSocketDevice(layout.QmpSocket));
        devices.Add(config.Agent switch
        {
            VirtioSerialTransport serial => new VirtioSerialAgentDevice(bus, layout.AgentSocket, serial.PortName),
            VsockTransport vsock => new VsockDevice(bus, vsock.GuestCid),
            _ => throw new VmConfigException($"unknown agent transport {config.Agent.GetType().Name}"),
        });
        if (config.Shared is { } shared)
        {
            devices.Add(shared.Kind switch
            {
                SharedFsKind.NineP => new NinePShareDevice(bus, shared.HostPath, SharedDirectory.MountTag),
                SharedFsKind.VirtioFs => new VirtioFsShareDevice(bus, layout.VirtiofsdSocket, SharedDirectory.MountTag, config.MemoryMiB),
                _ => throw new VmConfigException($"unknown shared filesystem kind {shared.Kind}"),
            });
        }
        if (!config.NetworkHotplug)
        {
            devices.AddRange(NetworkDevices(config, bus));
        }
        if (config.HotplugPorts > 0)
        {
            devices.Add(new HotplugPortsDevice(config.HotplugPorts));
        }
        if (config.Rng)
        {
            devices.Add(new RngDevice(bus));
        }
        if (config.FreePageReporting)
        {
            devices.Add(new FreePageReportingDevice(bus));
        }
        if (config.IncomingMigration)
        {
            devices.Add(new IncomingMigrationDevice());
        }
        if (config.ExtraArguments.Count > 0)
        {
            devices.Add(new RawArguments(config.ExtraArguments));
        }
        return devices;
    }

    /// <summary>
    /// The NICs of <paramref name="config"/>, their descriptors numbered exactly as <see cref="InheritedFds"/> numbers
    /// them: on the command line, or added after start when <see cref="VmConfig.NetworkHotplug"/> is set.
    /// </summary>
    public static IReadOnlyList<NetworkDevice> NetworkDevices(VmConfig config, VirtioBus bus)
    {
        List<NetworkDevice> nics = [];
        int nextFd = FirstInheritedFd;
        for (int i = 0; i < config.NetworkInterfaces.Count; i++)
        {
            NetworkInterfaceConfig nic = config.NetworkInterfaces[i];
            int tap = nextFd++;
            int? vhost = nic.VhostNet is null ? null : nextFd++;
            nics.Add(new NetworkDevice(bus, i, tap, nic.MacAddress, nic.Mtu, vhost));
        }
        return nics;
    }

    /// <summary>
    /// The virtio-mem region: the headroom above boot RAM, rounded down to whole virtio-mem blocks (the backend's size
    /// must be a multiple of the block). 0 = no memory hot-plug.
    /// </summary>
    public static int HotplugMemoryMiB(VmConfig config)
    {
        int blockMiB = (int)(VirtioMemDevice.BlockBytes >> 20);
        int headroom = (config.MaxMemoryMiB ?? config.MemoryMiB) - config.MemoryMiB;
        return headroom <= 0 ? 0 : headroom / blockMiB * blockMiB;
    }

    /// <summary>QEMU's first inherited descriptor after stdin, stdout and stderr.</summary>
    public const int FirstInheritedFd = 3;

    /// <summary>
    /// The descriptors QEMU inherits and the number each gets in QEMU: for every network interface in order, its tap,
    /// then its vhost-net descriptor if any, numbered from <see cref="FirstInheritedFd"/> up. The command line names the
    /// same numbers; the launch hands exactly this list to the spawner's fd map, so nothing else reaches QEMU.
    /// </summary>
    public static IReadOnlyList<InheritedFd> InheritedFds(VmConfig config)
    {
        List<InheritedFd> fds = [];
        foreach (NetworkInterfaceConfig nic in config.NetworkInterfaces)
        {
            fds.Add(new InheritedFd(FirstInheritedFd + fds.Count, nic.Tap));
            if (nic.VhostNet is { } vhost)
            {
                fds.Add(new InheritedFd(FirstInheritedFd + fds.Count, vhost));
            }
        }
        return fds;
    }

    /// <summary>QEMU's argv without the program name.</summary>
    public static IReadOnlyList<string> Build(VmConfig config, RunLayout layout, HostCapabilities host) =>
        [.. Devices(config, layout, host).SelectMany(d => d.Arguments())];

    public static Accelerator ResolveAccel(Accelerator accel, HostCapabilities host) => accel switch
    {
        Accelerator.Auto => host.KvmUsable ? Accelerator.Kvm : Accelerator.Tcg,
        Accelerator.Kvm when !host.KvmUsable => throw new VmConfigException(
            "accel kvm was requested but KVM is not usable here (/dev/kvm missing or not writable, or no vmx/svm CPU flag); use tcg or auto"),
        _ => accel,
    };

    /// <summary>The -bios file, or null for QEMU's default. microvm brings its own qboot-based firmware.</summary>
    private static string? ResolveFirmware(VmConfig config, HostCapabilities host)
    {
        if (config.Machine == MachineType.Microvm)
        {
            return config.Firmware.Kind == FirmwareKind.File
                ? throw new VmConfigException("microvm uses its own firmware (bios-microvm.bin); a firmware file is only for q35")
                : null;
        }
        return config.Firmware.Kind switch
        {
            FirmwareKind.Auto => host.QbootPath,
            FirmwareKind.QemuDefault => null,
            FirmwareKind.File => config.Firmware.FilePath ?? throw new VmConfigException("firmware kind File needs a path"),
            _ => throw new VmConfigException($"unknown firmware kind {config.Firmware.Kind}"),
        };
    }
}
