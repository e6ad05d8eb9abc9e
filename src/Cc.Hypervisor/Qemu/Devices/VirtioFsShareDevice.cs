using System.Globalization;

namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>
/// A host directory over virtio-fs, served by a virtiofsd listening on <see cref="SocketPath"/>.
/// vhost-user needs guest RAM that virtiofsd can map, so RAM becomes a shared memfd backend of the
/// same size (-machine options merge, so this adds to the machine line).
/// </summary>
public sealed record VirtioFsShareDevice(VirtioBus Bus, string SocketPath, string MountTag, int MemoryMiB) : IQemuDevice
{
    public IReadOnlyList<string> Arguments() =>
    [
        "-object", string.Create(CultureInfo.InvariantCulture, $"memory-backend-memfd,id=mem,size={MemoryMiB}M,share=on"),
        "-machine", "memory-backend=mem",
        "-chardev", $"socket,id=virtiofs,path={QemuOption.Escape(SocketPath)}",
        "-device", $"{QemuOption.Virtio("vhost-user-fs", Bus)},chardev=virtiofs,tag={QemuOption.Escape(MountTag)}",
    ];
}
