using System.Text.Json;

namespace Cc.Hypervisor.Qmp;

/// <summary>
/// QEMU's <c>VSERPORT_CHANGE</c> events for one virtio-serial port: <c>{"id": "&lt;device id&gt;", "open": true|false}</c>,
/// raised when the guest opens or closes the port (not when the host end connects). QEMU raises them only for a
/// <c>virtserialport</c> that has an <c>id</c>.
/// </summary>
public static class VirtioSerialPortEvents
{
    /// <summary>The port's device id and new guest state, when <paramref name="evt"/> is a well-formed VSERPORT_CHANGE.</summary>
    public static bool TryRead(QmpEvent evt, out string portId, out bool open)
    {
        portId = "";
        open = false;
        if (evt.Name != QmpEvent.VserportChange || evt.Data.ValueKind != JsonValueKind.Object ||
            !evt.Data.TryGetProperty("id", out JsonElement id) || id.ValueKind != JsonValueKind.String ||
            !evt.Data.TryGetProperty("open", out JsonElement state) ||
            state.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            return false;
        }
        portId = id.GetString()!;
        open = state.GetBoolean();
        return true;
    }

    /// <summary>
    /// Returns once <paramref name="events"/> shows the guest closing port <paramref name="portId"/>: the guest has let go
    /// of the connection it had. QEMU throttles VSERPORT_CHANGE to one per second per port and then sends only the latest
    /// state, so a quick close and reopen may arrive as a single "open: true", and a port that the guest keeps reopening
    /// (an agent with no host) mostly shows "open: false": only a close is waited for. Events of other ports are skipped.
    /// Throws <see cref="QmpDisconnectedException"/> when the connection ends first.
    /// </summary>
    public static async Task WaitForCloseAsync(this QmpEventSubscription events, string portId, CancellationToken cancellationToken)
    {
        await foreach (QmpEvent evt in events.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            if (TryRead(evt, out string id, out bool open) && id == portId && !open)
            {
                return;
            }
        }
        throw new QmpDisconnectedException($"connection closed before the guest closed port {portId}");
    }

    /// <summary>
    /// Returns once no VSERPORT_CHANGE for port <paramref name="portId"/> has arrived for <paramref name="quiet"/>. QEMU
    /// sends the first change of a port at once and then holds every later one until a second has passed since the last
    /// it sent, and of those sends only the latest state: a close and reopen within that second reach the host as one
    /// "open: true", and the close is lost. Waiting out a quiet window longer than QEMU's second before a hang-up makes
    /// sure no window is running then, so the guest's close is sent at once. Events of other ports are skipped.
    /// Throws <see cref="QmpDisconnectedException"/> when the connection ends first.
    /// </summary>
    public static async Task WaitForQuietAsync(this QmpEventSubscription events, string portId, TimeSpan quiet,
        CancellationToken cancellationToken)
    {
        while (true)
        {
            using var window = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            window.CancelAfter(quiet);
            try
            {
                bool changed = false;
                await foreach (QmpEvent evt in events.ReadAllAsync(window.Token).ConfigureAwait(false))
                {
                    if (TryRead(evt, out string id, out _) && id == portId)
                    {
                        changed = true;
                        break;
                    }
                }
                if (!changed)
                {
                    throw new QmpDisconnectedException($"connection closed while waiting for port {portId} to stay unchanged");
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }
}
