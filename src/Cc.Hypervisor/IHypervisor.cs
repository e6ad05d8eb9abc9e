namespace Cc.Hypervisor;

/// <summary>
/// The engine seam the shim uses to run a pod's VM. Deliberately small: start a VM; everything
/// after that is on the <see cref="IVirtualMachine"/> it returns. Tests use fakes of both.
/// </summary>
public interface IHypervisor
{
    /// <summary>
    /// Starts a VM and returns once its monitor answers (the guest may still be booting). On failure
    /// nothing is left behind: no process, no socket, no run directory.
    /// Throws <see cref="VmConfigException"/> for a config that cannot work and
    /// <see cref="VmStartException"/> when the hypervisor fails to come up.
    /// </summary>
    Task<IVirtualMachine> StartAsync(VmConfig config, CancellationToken cancellationToken);
}

/// <summary>One running VM. Disposing it guarantees that no process, socket or run directory remains.</summary>
public interface IVirtualMachine : IAsyncDisposable
{
    /// <summary>The hypervisor process id (what containerd reports as the sandbox's pid).</summary>
    int Pid { get; }

    /// <summary>Where the shim reaches the in-guest agent.</summary>
    AgentEndpoint Agent { get; }

    /// <summary>Completes when the hypervisor process has exited, with its code and the reason. Never faults.</summary>
    Task<VmExit> Exited { get; }

    /// <summary>The VM's run state as the hypervisor reports it, e.g. "running" or "paused". Once the
    /// hypervisor has exited this throws (<see cref="Qmp.QmpDisconnectedException"/> for QEMU); use <see cref="Exited"/>.</summary>
    Task<string> QueryStatusAsync(CancellationToken cancellationToken);

    /// <summary>Live resizing within the headroom the VM was started with, or null when it has none (docs/hotplug.md).</summary>
    IVmHotplug? Hotplug => null;

    /// <summary>When the guest opens its agent port, for a transport that says so (virtio-serial under QEMU); null when the
    /// host cannot see it (vsock). The agent connector probes at once on it (docs/performance.md, "Where a cold start goes").</summary>
    IGuestPortSignal? AgentPortOpens => null;

    /// <summary>
    /// Ends the VM: asks the hypervisor to quit, and kills it if it has not exited within
    /// <paramref name="grace"/>. Idempotent; every call waits for the same stop. Cancelling abandons
    /// the wait, not the stop.
    /// </summary>
    Task StopAsync(TimeSpan grace, CancellationToken cancellationToken);
}
