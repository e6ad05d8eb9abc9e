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
    /// Returns once <paramref name="events"/> has shown the guest closing port <paramref name="portId"/> and then opening
    /// it again: the guest has let go of the connection it had and is back waiting for a host. An open without a close
    /// before it is not enough (it may be the end of an earlier cycle), and events of other ports are skipped. Throws
    /// <see cref="QmpDisconnectedException"/> when the connection ends first.
    /// </summary>
    public static async Task WaitForReopenAsync(this QmpEventSubscription events, string portId, CancellationToken cancellationToken)
    {
        bool closed = false;
        await foreach (QmpEvent evt in events.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!TryRead(evt, out string id, out bool open) || id != portId)
            {
                continue;
            }
            if (!open)
            {
                closed = true;
            }
            else if (closed)
            {
                return;
            }
        }
        throw new QmpDisconnectedException($"connection closed before the guest closed and reopened port {portId}");
    }
}
