namespace Cc.Hypervisor;

/// <summary>
/// Tells when the guest opens its end of the agent channel, for a transport that raises an event then (QEMU's
/// <c>VSERPORT_CHANGE</c> for the virtio-serial port). A hint to probe the agent at once, never proof that it is ready:
/// the agent may still answer "not ready", and a transport without such an event (vsock: the guest's listen is not
/// seen by the host) has no signal, so the connector's periodic probe stays the fallback.
/// </summary>
public interface IGuestPortSignal
{
    /// <summary>Completes the next time the guest opens the port after this call; never faults; cancellable.</summary>
    Task NextOpenAsync(CancellationToken cancellationToken);
}
