using System.Text.Json;
using Cc.Hypervisor.Qmp;

namespace Cc.Hypervisor.Qemu.Hotplug;

/// <summary>
/// Waits until the guest has taken each NIC hot-plugged into a template's clone: its virtio-net driver set DRIVER_OK in
/// the device's status register, which QEMU 7.2 reports through <c>x-query-virtio-status</c> (the device's
/// <c>virtio-backend</c> child). virtio_net sets DRIVER_OK as it registers the interface, whose MAC is the one device_add
/// gave the device; so once every device reads DRIVER_OK the agent will find every interface by its MAC. A device that
/// does not within the bound (the guest's PCIe hot-plug never saw the slot, virtio_net is missing) is reported, and the
/// caller gives up the clone before any of the pod's state reaches its guest.
/// </summary>
public sealed class GuestNicBindingWait(IQmpExecutor qmp, TimeProvider time, TimeSpan bound, TimeSpan pollInterval)
{
    /// <summary>The agent waits as long for an interface to appear (Cc.Agent GuestNetwork.LinkTimeout).</summary>
    public static readonly TimeSpan DefaultBound = TimeSpan.FromSeconds(10);

    public static readonly TimeSpan DefaultPollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>virtio 1.x, 2.1 "Device Status Field": the driver is set up and ready to drive the device.</summary>
    internal const string DriverOk = "VIRTIO_CONFIG_S_DRIVER_OK";

    /// <summary>The same field: the guest gave up on the device (its probe failed); it will not take it later.</summary>
    internal const string Failed = "VIRTIO_CONFIG_S_FAILED";

    /// <summary>
    /// Polls the virtio status of each of <paramref name="deviceIds"/> (QOM ids below /machine/peripheral) until all read
    /// DRIVER_OK, or <see cref="NicNotTaken"/> for the first one that did not when the bound passed (at once for one the
    /// guest marked FAILED). A QEMU without <c>x-query-virtio-status</c> (older than 7.2) cannot tell: the result is then
    /// null as for success, and the agent's own wait is the only check. Any other QMP failure propagates.
    /// </summary>
    public async Task<NicNotTaken?> WaitAsync(IReadOnlyList<string> deviceIds, CancellationToken cancellationToken)
    {
        long started = time.GetTimestamp();
        int next = 0;
        while (true)
        {
            string statuses = "";
            // Devices already taken stay taken (DRIVER_OK is only cleared by a device reset): each is read until it is.
            while (next < deviceIds.Count)
            {
                List<string>? read = await StatusesAsync(deviceIds[next], cancellationToken).ConfigureAwait(false);
                if (read is null)
                {
                    return null;
                }
                if (!read.Any(s => s.StartsWith(DriverOk, StringComparison.Ordinal)))
                {
                    statuses = read.Count == 0 ? "none" : string.Join(", ", read.Select(s => s.Split(':')[0]));
                    if (read.Any(s => s.StartsWith(Failed, StringComparison.Ordinal)))
                    {
                        return new NicNotTaken(deviceIds[next], statuses, time.GetElapsedTime(started));
                    }
                    break;
                }
                next++;
            }
            if (next == deviceIds.Count)
            {
                return null;
            }
            if (time.GetElapsedTime(started) >= bound)
            {
                return new NicNotTaken(deviceIds[next], statuses, time.GetElapsedTime(started));
            }
            await Task.Delay(pollInterval, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The device's status bits as QEMU names them ("VIRTIO_CONFIG_S_DRIVER_OK: Driver setup and ready"), or
    /// null when this QEMU has no x-query-virtio-status.</summary>
    private async Task<List<string>?> StatusesAsync(string deviceId, CancellationToken cancellationToken)
    {
        Dictionary<string, JsonElement> arguments = new(StringComparer.Ordinal)
        {
            ["path"] = JsonSerializer.SerializeToElement(BackendPath(deviceId), QmpJsonContext.Default.String),
        };
        JsonElement reply;
        try
        {
            reply = await qmp.ExecuteAsync("x-query-virtio-status",
                JsonSerializer.SerializeToElement(arguments, QmpJsonContext.Default.DictionaryStringJsonElement),
                cancellationToken).ConfigureAwait(false);
        }
        catch (QmpErrorException e) when (e.ErrorClass == "CommandNotFound")
        {
            return null;
        }
        List<string> statuses = [];
        if (reply.TryGetProperty("status", out JsonElement status) && status.TryGetProperty("statuses", out JsonElement names)
            && names.ValueKind == JsonValueKind.Array)
        {
            statuses.AddRange(names.EnumerateArray().Where(n => n.ValueKind == JsonValueKind.String).Select(n => n.GetString()!));
        }
        return statuses;
    }

    /// <summary>The QOM path of a virtio PCI device's virtio side, where x-query-virtio-status looks.</summary>
    internal static string BackendPath(string deviceId) => CpuSlot.PeripheralPrefix + deviceId + "/virtio-backend";
}

/// <summary>A hot-plugged NIC the guest had not taken when the wait gave up after <paramref name="Waited"/>, with the
/// status bits its driver had set.</summary>
public sealed record NicNotTaken(string DeviceId, string Statuses, TimeSpan Waited);
