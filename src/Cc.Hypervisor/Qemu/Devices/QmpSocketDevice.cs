namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>
/// The QMP monitor on a unix socket QEMU listens on without waiting for us (wait=off), so QEMU boots
/// the guest while the driver connects. Written as chardev + -mon (the long form of
/// <c>-qmp unix:PATH,server=on,wait=off</c>) so that the path can be escaped.
/// </summary>
public sealed record QmpSocketDevice(string SocketPath) : IQemuDevice
{
    public IReadOnlyList<string> Arguments() =>
    [
        "-chardev", $"socket,id=qmp,path={QemuOption.Escape(SocketPath)},server=on,wait=off",
        "-mon", "chardev=qmp,mode=control",
    ];
}
