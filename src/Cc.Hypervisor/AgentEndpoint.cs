namespace Cc.Hypervisor;

/// <summary>How the host reaches the agent inside the VM (docs/design/guest.md, "Devices and names").</summary>
public abstract record AgentEndpoint;

/// <summary>The host end of the virtio-serial port: a unix socket QEMU listens on (server=on,wait=off).
/// One connection at a time; the agent reopens its side when the host disconnects.</summary>
public sealed record VirtioSerialEndpoint(string SocketPath) : AgentEndpoint
{
    public override string ToString() => "unix://" + SocketPath;
}

/// <summary>AF_VSOCK: the host dials the guest's context id at the agent's port.</summary>
public sealed record VsockEndpoint(uint Cid, uint Port) : AgentEndpoint
{
    public override string ToString() => $"vsock://{Cid}:{Port}";
}
