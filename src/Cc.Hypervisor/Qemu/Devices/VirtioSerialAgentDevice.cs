namespace Cc.Hypervisor.Qemu.Devices;

/// <summary>
/// The agent channel of docs/design/guest.md: a virtio-serial controller with one named port, whose
/// host end is a unix socket QEMU listens on. The guest sees /dev/virtio-ports/<see cref="PortName"/>.
/// </summary>
public sealed record VirtioSerialAgentDevice(VirtioBus Bus, string SocketPath, string PortName) : IQemuDevice
{
    /// <summary>The port's device id: with one, QEMU raises <c>VSERPORT_CHANGE</c> when the guest opens or closes the
    /// port, which the template factory waits for before a save (docs/templates.md, "The first answer").</summary>
    public const string PortDeviceId = "agent-port";

    public IReadOnlyList<string> Arguments() =>
    [
        "-device", $"{QemuOption.Virtio("virtio-serial", Bus)},id=agent-serial",
        "-chardev", $"socket,id=agent,path={QemuOption.Escape(SocketPath)},server=on,wait=off",
        "-device", $"virtserialport,bus=agent-serial.0,chardev=agent,id={PortDeviceId},name={QemuOption.Escape(PortName)}",
    ];
}
