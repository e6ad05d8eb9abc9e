namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>
/// The guest's ttyS0 written to a log file. append=on (O_APPEND) lets the driver add QEMU's own
/// stderr lines to the same file without either writer overwriting the other.
/// </summary>
public sealed record SerialConsoleDevice(string LogPath) : IQemuDevice
{
    public IReadOnlyList<string> Arguments() =>
        ["-chardev", $"file,id=console,path={QemuOption.Escape(LogPath)},append=on", "-serial", "chardev:console"];
}
