using System.Text;

namespace Cc.Hypervisor.Qemu;

/// <summary>Checks a config against the host before anything starts, so that a mistake is a
/// <see cref="VmConfigException"/> naming the field, not a QEMU error after a fork.</summary>
internal static class VmConfigValidation
{
    private static readonly string[] LogLevels = ["trace", "debug", "info", "warn", "error"];

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

    private static void RequireFile(string path, string field)
    {
        if (!File.Exists(path))
        {
            throw new VmConfigException($"{field} {path} does not exist");
        }
    }
}
