using System.Globalization;

namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>
/// Guest RAM as a file-backed memory backend (-machine options merge, so this adds to the machine line).
/// share=on writes the guest's RAM through to the file; share=off maps it MAP_PRIVATE, so each clone shares the
/// template's untouched pages with every other clone and owns only the pages it writes. The backend's id is part of
/// the migration stream's RAM block names: template and clone must both use <see cref="BackendId"/>.
/// </summary>
public sealed record MemoryFileDevice(string Path, bool Shared, int MemoryMiB) : IQemuDevice
{
    public const string BackendId = "cc-ram";

    public IReadOnlyList<string> Arguments() =>
    [
        "-object", string.Create(CultureInfo.InvariantCulture,
            $"memory-backend-file,id={BackendId},size={MemoryMiB}M,mem-path={QemuOption.Escape(Path)},share={(Shared ? "on" : "off")}"),
        "-machine", "memory-backend=" + BackendId,
    ];
}
