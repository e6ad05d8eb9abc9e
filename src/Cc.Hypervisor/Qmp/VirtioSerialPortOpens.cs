namespace Cc.Hypervisor.Qmp;

/// <summary>
/// The guest's opens of one virtio-serial port, as QEMU reports them (<c>VSERPORT_CHANGE</c> with <c>"open": true</c>),
/// fed one QMP event at a time by whoever reads the VM's events. QEMU sends a port's first change at once and later ones
/// at most once a second, only the latest state then: a cold boot's or a clone's first open arrives without delay, a
/// quick close and reopen may arrive late or as one "open". A consumer must therefore treat an open as a hint and keep
/// its own fallback (<see cref="IGuestPortSignal"/>).
/// </summary>
public sealed class VirtioSerialPortOpens(string portId) : IGuestPortSignal
{
    // Completed and replaced at each open: a waiter that read it before the open sees that open, one that reads it after
    // waits for the next. Never faulted or cancelled itself.
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Takes one QMP event; returns true when it was the guest opening this port (waiters released).</summary>
    public bool Observe(QmpEvent evt)
    {
        if (!VirtioSerialPortEvents.TryRead(evt, out string id, out bool open) || !open || id != portId)
        {
            return false;
        }
        Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        return true;
    }

    public Task NextOpenAsync(CancellationToken cancellationToken) => Volatile.Read(ref _next).Task.WaitAsync(cancellationToken);
}
