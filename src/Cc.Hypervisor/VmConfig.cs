namespace Cc.Hypervisor;

/// <summary>
/// Everything needed to start one VM. Defaults follow docs/floors.md (the fastest TCG boot measured
/// here) and the names in docs/design/guest.md. Paths must be absolute.
/// </summary>
public sealed record VmConfig
{
    /// <summary>The QEMU system emulator.</summary>
    public string QemuPath { get; init; } = "/usr/bin/qemu-system-x86_64";

    public required KernelConfig Kernel { get; init; }

    /// <summary>Guest RAM. 256 MiB boots as fast as 2 GiB and costs less (floors.md).</summary>
    public int MemoryMiB { get; init; } = 256;

    public int Vcpus { get; init; } = 1;

    /// <summary>
    /// Headroom for memory hot-plug (docs/hotplug.md): the most guest RAM the VM may grow to, or null for none. Above
    /// <see cref="MemoryMiB"/> it adds a virtio-mem device whose region spans the difference (nothing plugged at boot);
    /// q35 only (microvm has no PCI for virtio-mem-pci).
    /// </summary>
    public int? MaxMemoryMiB { get; init; }

    /// <summary>Headroom for vCPU hot-plug: <c>-smp Vcpus,maxcpus=MaxVcpus</c>, or null for none. q35 only (ACPI CPU
    /// hot-plug).</summary>
    public int? MaxVcpus { get; init; }

    public MachineType Machine { get; init; } = MachineType.Q35;

    /// <summary>Auto picks KVM when it is usable on this host (<see cref="HostCapabilities"/>), else TCG.</summary>
    public Accelerator Accel { get; init; } = Accelerator.Auto;

    /// <summary>TCG's translation-block cache size; the default (1 GiB) costs memory and boot time.</summary>
    public int TcgTranslationCacheMiB { get; init; } = 64;

    /// <summary>Firmware for q35 (microvm always uses its own). Auto = qboot when the qemu-system-data
    /// package ships it, else QEMU's default SeaBIOS.</summary>
    public Firmware Firmware { get; init; } = Firmware.Auto;

    /// <summary>The VM's private directory: QMP and agent sockets live here. Created by StartAsync
    /// (it must not exist or be empty) and removed on dispose. Keep it short: unix socket paths
    /// are limited to 107 bytes.</summary>
    public required string RunDirectory { get; init; }

    /// <summary>Where the guest console (ttyS0) and QEMU's stderr are written. Null = console.log in the
    /// run directory (gone after dispose); set it outside to keep the log.</summary>
    public string? ConsoleLogPath { get; init; }

    /// <summary>The host directory shared with the guest as mount tag ccshared, or null for none.</summary>
    public SharedDirectory? Shared { get; init; }

    public AgentTransport Agent { get; init; } = new VirtioSerialTransport();

    /// <summary>The guest's network interfaces, one virtio-net device each, in this order (the guest names them
    /// eth0, eth1, ... in PCI/mmio order). Each tap descriptor is passed to QEMU through the spawner's fd map;
    /// the caller owns it and keeps it open until StartAsync returned (QEMU holds its own copy from then on).</summary>
    public IReadOnlyList<NetworkInterfaceConfig> NetworkInterfaces { get; init; } = [];

    /// <summary>Add virtio-rng fed from /dev/urandom (the guest's entropy source).</summary>
    public bool Rng { get; init; }

    /// <summary>Add virtio-balloon with free page reporting: the guest hands the pages it freed back to the host
    /// (<see cref="Qemu.Devices.FreePageReportingDevice"/>). Not with a private <see cref="MemoryFile"/> (a clone).</summary>
    public bool FreePageReporting { get; init; }

    /// <summary>Raw QEMU arguments appended after the devices we build, for devices we do not model yet.</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    /// <summary>Guest RAM in a file instead of anonymous memory (VM templates, docs/templates.md), or null.</summary>
    public GuestMemoryFile? MemoryFile { get; init; }

    /// <summary>Start with <c>-incoming defer</c>: the guest runs only after
    /// <see cref="Qemu.QemuVirtualMachine.LoadStateAsync"/> loaded a saved state into it.</summary>
    public bool IncomingMigration { get; init; }

    /// <summary>Empty PCIe root ports (q35 only) that devices can be hot-plugged into after start: a template VM's, so
    /// that its clones can get the pod's NICs (docs/templates.md).</summary>
    public int HotplugPorts { get; init; }

    /// <summary>The <see cref="NetworkInterfaces"/>' descriptors are inherited as usual, but their netdevs and devices are
    /// not on the command line: <see cref="Qemu.QemuVirtualMachine.PlugNetworkInterfacesAsync"/> adds them into the
    /// <see cref="HotplugPorts"/> once the guest runs (a template's clone, whose saved device set has no NIC).</summary>
    public bool NetworkHotplug { get; init; }

    /// <summary>How long StartAsync waits for QEMU's monitor to answer.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Guest RAM backed by <see cref="Path"/> (in tmpfs, so "file" means page cache, not disk). <see cref="Shared"/>:
/// the guest's writes go to the file (a template being made); otherwise the file is mapped private, copy-on-write
/// (a clone: it reads the template's pages and its own writes stay its own).
/// </summary>
public sealed record GuestMemoryFile(string Path, bool Shared);

/// <summary>The guest kernel. <see cref="Path"/> is an ELF vmlinux (booted through its PVH entry,
/// ~3 s faster under TCG) or a bzImage.</summary>
public sealed record KernelConfig
{
    public required string Path { get; init; }
    public required string InitramfsPath { get; init; }

    /// <summary>Agent log level, passed as cc.log=.</summary>
    public string AgentLogLevel { get; init; } = "info";

    /// <summary>Extra kernel parameters appended after ours (later ones win in the kernel).</summary>
    public IReadOnlyList<string> ExtraParameters { get; init; } = [];
}

public enum MachineType
{
    /// <summary>PC with PCIe; devices are virtio-*-pci.</summary>
    Q35,

    /// <summary>Minimal machine with virtio-mmio devices (virtio-*-device); the guest needs virtio_mmio early.</summary>
    Microvm,
}

public enum Accelerator
{
    Auto,
    Kvm,
    Tcg,
}

/// <summary>Which firmware q35 boots. <see cref="FilePath"/> is only read for <see cref="FirmwareKind.File"/>.</summary>
public sealed record Firmware(FirmwareKind Kind, string? FilePath = null)
{
    public static Firmware Auto { get; } = new(FirmwareKind.Auto);
    public static Firmware QemuDefault { get; } = new(FirmwareKind.QemuDefault);
    public static Firmware File(string path) => new(FirmwareKind.File, path);
}

public enum FirmwareKind
{
    Auto,
    QemuDefault,
    File,
}

/// <summary>A host directory shared with the guest under the mount tag <see cref="MountTag"/>.</summary>
public sealed record SharedDirectory
{
    public required string HostPath { get; init; }
    public SharedFsKind Kind { get; init; } = SharedFsKind.NineP;

    /// <summary>Fixed by docs/design/guest.md; the agent mounts this tag.</summary>
    public const string MountTag = "ccshared";

    /// <summary>virtiofsd, for <see cref="SharedFsKind.VirtioFs"/> (Debian's QEMU 7.2 ships it here).</summary>
    public string VirtiofsdPath { get; init; } = "/usr/lib/qemu/virtiofsd";
}

public enum SharedFsKind
{
    /// <summary>virtio-9p with the local fsdev (the generic Debian kernel has 9p).</summary>
    NineP,

    /// <summary>virtio-fs through virtiofsd; guest RAM becomes a shared memfd.</summary>
    VirtioFs,
}

/// <summary>
/// One guest network interface backed by a host tap device that the caller opened (for example in the pod's network
/// namespace, /dev/net/tun with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR). QEMU receives <see cref="Tap"/> as an inherited
/// descriptor (<c>-netdev tap,fd=N</c>), so it needs no rights to create taps and never sees the namespace.
/// </summary>
public sealed record NetworkInterfaceConfig
{
    /// <summary>An open tap file descriptor, owned by the caller (the VM does not close it).</summary>
    public required System.Runtime.InteropServices.SafeHandle Tap { get; init; }

    /// <summary>The guest interface's MAC address, six colon-separated hex bytes (aa:bb:cc:dd:ee:ff).</summary>
    public required string MacAddress { get; init; }

    /// <summary>The MTU the device advertises to the guest (virtio-net host_mtu), or null for QEMU's default (1500).</summary>
    public int? Mtu { get; init; }

    /// <summary>An open /dev/vhost-net descriptor for in-kernel virtio-net (vhost=on), owned by the caller; null = QEMU's
    /// user-space virtio-net (always the case under TCG, where vhost brings nothing).</summary>
    public System.Runtime.InteropServices.SafeHandle? VhostNet { get; init; }
}

/// <summary>The agent channel.</summary>
public abstract record AgentTransport;

/// <summary>A virtio-serial port named <see cref="PortName"/> backed by a unix socket in the run directory.</summary>
public sealed record VirtioSerialTransport : AgentTransport
{
    public string PortName { get; init; } = DefaultPortName;

    /// <summary>Fixed by docs/design/guest.md; the agent opens /dev/virtio-ports/cc.agent.0.</summary>
    public const string DefaultPortName = "cc.agent.0";
}

/// <summary>vhost-vsock with the given guest context id (needs /dev/vhost-vsock on the host).</summary>
public sealed record VsockTransport(uint GuestCid) : AgentTransport
{
    public uint Port { get; init; } = DefaultPort;

    /// <summary>Fixed by docs/design/guest.md (cc.vsock default).</summary>
    public const uint DefaultPort = 1024;
}
