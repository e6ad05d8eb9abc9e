using System.Globalization;

namespace Cc.Agent.Guest;

// The virtio devices the guest's transports found: once virtio_pci (or virtio_mmio) is loaded, each device it probed is
// /sys/bus/virtio/devices/virtio<n>, whose "device" file holds the virtio device id in hex ("0x0013"). The driver of a
// device need not be loaded for it to be listed there, so the agent can tell which optional drivers the VM needs.
public static class VirtioDevices
{
    public const string BusDirectory = "/sys/bus/virtio/devices";

    // Device ids, virtio 1.2 section 5 "Device Types".
    public const int Socket = 19;

    // True when a device with this id is on the bus. A device file that cannot be read or parsed is skipped: the
    // answer is only used to load a driver earlier, and a device missed here still gets its driver with the rest.
    public static bool Present(int deviceId, string busDirectory = BusDirectory)
    {
        if (!Directory.Exists(busDirectory))
        {
            return false;
        }

        foreach (var device in Directory.EnumerateFileSystemEntries(busDirectory))
        {
            try
            {
                var text = File.ReadAllText(Path.Combine(device, "device")).Trim();
                if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
                    && int.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var id)
                    && id == deviceId)
                {
                    return true;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // a device that went away between the listing and the read
            }
        }

        return false;
    }
}
