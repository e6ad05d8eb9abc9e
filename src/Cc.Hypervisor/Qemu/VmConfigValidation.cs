using System.Text;

namespace Cc.Hypervisor.Qemu;

/// <summary>Checks a config against the host before anything starts, so that a mistake is a
/// <see cref="VmConfigException"/> naming the field, not a QEMU error after a fork.</summary>
internal static partial class VmConfigValidation
{
    private static readonly string[] LogLevels = ["trace", "debug", "info", "warn", "error"];

    /// <summary>The hot-plug headroom: maxima at least the boot sizes, and none on microvm.</summary>
    public static void CheckHotplug(VmConfig config)
    {
        if (config.MaxMemoryMiB is { } maxMemory && maxMemory < config.MemoryMiB)
        {
            throw new VmConfigException($"MaxMemoryMiB {maxMemory} is below MemoryMiB {config.MemoryMiB}");
        }
        if (config.MaxVcpus is { } maxVcpus && maxVcpus < config.Vcpus)
        {
            throw new VmConfigException($"MaxVcpus {maxVcpus} is below Vcpus {config.Vcpus}");
        }
        if (config.Machine == MachineType.Microvm && (config.MaxMemoryMiB > config.MemoryMiB || config.MaxVcpus > config.Vcpus))
        {
            throw new VmConfigException("microvm has no memory or vCPU hot-plug (no PCI for virtio-mem, no ACPI CPU hot-plug); leave MaxMemoryMiB and MaxVcpus unset");
        }
    }

    public static void Validate(VmConfig config, HostCapabilities host)
    {
        RequireFile(config.QemuPath, nameof(VmConfig.QemuPath));
        RequireFile(config.Kernel.Path, "Kernel.Path");
        RequireFile(config.Kernel.InitramfsPath, "Kernel.InitramfsPath");
        if (config.MemoryMiB < 64)
        {
            throw new VmConfigException($"MemoryMiB {config.MemoryMiB} is too small; the guest kernel needs at least 64");
        }
        if (config.Vcpus < 1)
        {
            throw new VmConfigException($"Vcpus {config.Vcpus} must be at least 1");
        }
        CheckHotplug(config);
        if (config.TcgTranslationCacheMiB < 1)
        {
            throw new VmConfigException($"TcgTranslationCacheMiB {config.TcgTranslationCacheMiB} must be at least 1");
        }
        if (!LogLevels.Contains(config.Kernel.AgentLogLevel))
        {
            throw new VmConfigException($"Kernel.AgentLogLevel '{config.Kernel.AgentLogLevel}' is not one of {string.Join('|', LogLevels)}");
        }
        if (!Path.IsPathFullyQualified(config.RunDirectory))
        {
            throw new VmConfigException($"RunDirectory '{config.RunDirectory}' must be an absolute path");
        }
        var layout = RunLayout.For(config);
        foreach (string socket in new[] { layout.QmpSocket, layout.AgentSocket, layout.VirtiofsdSocket })
        {
            if (Encoding.UTF8.GetByteCount(socket) > RunLayout.MaxSocketPathBytes)
            {
                throw new VmConfigException($"socket path {socket} is longer than {RunLayout.MaxSocketPathBytes} bytes; use a shorter RunDirectory");
            }
        }
        if (config.Shared is { } shared)
        {
            if (!Directory.Exists(shared.HostPath))
            {
                throw new VmConfigException($"Shared.HostPath {shared.HostPath} is not a directory");
            }
            if (shared.Kind == SharedFsKind.VirtioFs)
            {
                RequireFile(shared.VirtiofsdPath, "Shared.VirtiofsdPath");
            }
        }
        ValidateNetworkInterfaces(config);
        ValidateHotplug(config);
        CheckFreePageReporting(config);
        if (config.MemoryFile is { } memory)
        {
            if (!Path.IsPathFullyQualified(memory.Path))
            {
                throw new VmConfigException($"MemoryFile.Path '{memory.Path}' must be an absolute path");
            }
            if (config.Shared is { Kind: SharedFsKind.VirtioFs })
            {
                throw new VmConfigException("MemoryFile cannot be combined with virtio-fs, which brings its own shared memory backend");
            }
        }
        if (config.Agent is VsockTransport vsock)
        {
            if (!host.VhostVsock)
            {
                throw new VmConfigException("the vsock agent transport needs /dev/vhost-vsock (modprobe vhost_vsock); use virtio-serial on this host");
            }
            if (vsock.GuestCid < 3)
            {
                throw new VmConfigException($"vsock guest CID {vsock.GuestCid} is reserved; use 3 or above");
            }
        }
        QemuCommandLine.ResolveAccel(config.Accel, host);
    }

    /// <summary>
    /// Free page reporting needs RAM whose discarded pages are this VM's alone. QEMU 7.2 discards a reported page of
    /// file-backed RAM by punching a hole in the file, even when the file is mapped private: in a template's clone that
    /// would zero the page under the template and every other clone.
    /// </summary>
    internal static void CheckFreePageReporting(VmConfig config)
    {
        if (config.FreePageReporting && config.MemoryFile is { Shared: false })
        {
            throw new VmConfigException(
                "FreePageReporting cannot be combined with a private MemoryFile (a template's clone): QEMU would punch the freed pages out of the template's file");
        }
    }

    internal static void ValidateNetworkInterfaces(VmConfig config)
    {
        for (int i = 0; i < config.NetworkInterfaces.Count; i++)
        {
            ValidateNetworkInterface(config.NetworkInterfaces[i], i);
        }
    }

    internal static void ValidateHotplug(VmConfig config)
    {
        if (config.HotplugPorts < 0)
        {
            throw new VmConfigException($"HotplugPorts {config.HotplugPorts} is negative");
        }
        if (config.HotplugPorts > 0 && config.Machine != MachineType.Q35)
        {
            throw new VmConfigException("HotplugPorts needs q35 (PCIe root ports); microvm's virtio-mmio has no hot-plug");
        }
        if (config.NetworkHotplug && config.NetworkInterfaces.Count > config.HotplugPorts)
        {
            throw new VmConfigException(
                $"{config.NetworkInterfaces.Count} network interface(s) to hot-plug but only {config.HotplugPorts} hot-plug port(s)");
        }
    }

    private static void ValidateNetworkInterface(NetworkInterfaceConfig nic, int index)
    {
        string field = $"NetworkInterfaces[{index}]";
        if (nic.Tap is null || nic.Tap.IsInvalid || nic.Tap.IsClosed)
        {
            throw new VmConfigException($"{field}.Tap is not an open descriptor");
        }
        if (nic.VhostNet is { } vhost && (vhost.IsInvalid || vhost.IsClosed))
        {
            throw new VmConfigException($"{field}.VhostNet is not an open descriptor");
        }
        if (!MacAddress().IsMatch(nic.MacAddress ?? ""))
        {
            throw new VmConfigException($"{field}.MacAddress '{nic.MacAddress}' is not six colon-separated hex bytes");
        }
        if ((Convert.ToByte(nic.MacAddress![..2], 16) & 1) != 0)
        {
            throw new VmConfigException($"{field}.MacAddress {nic.MacAddress} is a multicast address; a NIC needs a unicast one");
        }
        // 68 is IPv4's minimum MTU; 65535 the largest virtio-net's 16-bit host_mtu can carry.
        if (nic.Mtu is { } mtu && (mtu < 68 || mtu > 65535))
        {
            throw new VmConfigException($"{field}.Mtu {mtu} is outside 68..65535");
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")]
    private static partial System.Text.RegularExpressions.Regex MacAddress();

    /// <summary>
    /// The file must exist, be a file and open for reading: QEMU would otherwise fail later with a message that names
    /// neither the key nor the path (a directory, or a file root cannot read, e.g. on a FUSE or NFS mount).
    /// </summary>
    private static void RequireFile(string path, string field)
    {
        if (Directory.Exists(path))
        {
            throw new VmConfigException($"{field} {path} is a directory, not a file");
        }
        if (!File.Exists(path))
        {
            throw new VmConfigException($"{field} {path} does not exist");
        }
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VmConfigException($"{field} {path} cannot be read: {e.Message}");
        }
    }
}
