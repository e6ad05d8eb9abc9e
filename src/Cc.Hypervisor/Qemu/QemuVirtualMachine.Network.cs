using System.Globalization;
using System.Text.Json;
using Cc.Hypervisor.Qemu.Devices;
using Cc.Hypervisor.Qemu.Hotplug;
using Cc.Hypervisor.Qmp;

namespace Cc.Hypervisor.Qemu;

// NICs added to a running VM (a template's clone: its saved device set has none, docs/templates.md). The tap and
// vhost-net descriptors already reached QEMU through the spawner's fd map at the numbers QemuCommandLine gave them;
// netdev_add names those numbers (QEMU accepts the number of a descriptor it inherited where a getfd name could go), so
// no descriptor is ever passed over the QMP socket.
public sealed partial class QemuVirtualMachine
{
    /// <summary>
    /// Adds each of <paramref name="config"/>'s network interfaces (started with <see cref="VmConfig.NetworkHotplug"/>):
    /// the tap backend, then a virtio-net device with the interface's MAC and MTU in hot-plug port i. The guest's
    /// pciehp driver probes it; the agent finds the interface by its MAC as on a cold boot. A failure is a
    /// <see cref="VmStartException"/> naming the interface; the caller disposes the VM.
    /// </summary>
    public async Task PlugNetworkInterfacesAsync(VmConfig config, CancellationToken cancellationToken)
    {
        if (!config.NetworkHotplug)
        {
            throw new InvalidOperationException("the VM was started with its network interfaces on the command line");
        }
        IReadOnlyList<NetworkDevice> nics = QemuCommandLine.NetworkDevices(config, VirtioBus.Pci);
        foreach (NetworkDevice nic in nics)
        {
            try
            {
                await Qmp.NetdevAddAsync("tap", nic.NetdevId, NetdevProperties(nic), cancellationToken).ConfigureAwait(false);
                await Qmp.DeviceAddAsync("virtio-net-pci", DeviceId(nic), DeviceProperties(nic), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is QmpErrorException or QmpDisconnectedException or QmpProtocolException)
            {
                throw new VmStartException($"hot-plugging network interface {nic.Index} ({nic.MacAddress}) failed: {e.Message}",
                    _process.Tail(), e);
            }
        }
    }

    /// <summary>
    /// Waits until the guest's virtio-net driver has taken every NIC <see cref="PlugNetworkInterfacesAsync"/> added
    /// (<see cref="GuestNicBindingWait"/>), at most <paramref name="bound"/>. A NIC it has not taken by then, or QEMU gone
    /// meanwhile, is a <see cref="VmStartException"/> naming the interface: the guest would never find it by its MAC, and
    /// the caller disposes the VM (a clone: it boots the pod cold instead, docs/templates.md).
    /// </summary>
    public async Task WaitForGuestNicsAsync(VmConfig config, TimeSpan bound, CancellationToken cancellationToken)
    {
        IReadOnlyList<NetworkDevice> nics = QemuCommandLine.NetworkDevices(config, VirtioBus.Pci);
        NicNotTaken? missing;
        try
        {
            missing = await new GuestNicBindingWait(Qmp, _time, bound, GuestNicBindingWait.DefaultPollInterval)
                .WaitAsync([.. nics.Select(DeviceId)], cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QmpErrorException or QmpDisconnectedException or QmpProtocolException)
        {
            throw new VmStartException($"asking QEMU whether the guest took its hot-plugged network interfaces failed: {e.Message}",
                _process.Tail(), e);
        }
        if (missing is not null)
        {
            NetworkDevice nic = nics.Single(n => DeviceId(n) == missing.DeviceId);
            throw new VmStartException(string.Create(CultureInfo.InvariantCulture,
                    $"the guest did not take hot-plugged network interface {nic.Index} ({nic.MacAddress}) in {missing.Waited.TotalSeconds:0.#} s (its virtio status: {missing.Statuses})"),
                _process.Tail());
        }
    }

    internal static string DeviceId(NetworkDevice nic) => string.Create(CultureInfo.InvariantCulture, $"nic{nic.Index}");

    internal static Dictionary<string, JsonElement> NetdevProperties(NetworkDevice nic)
    {
        var properties = new Dictionary<string, JsonElement>(StringComparer.Ordinal)
        {
            ["fd"] = Json(nic.TapFd.ToString(CultureInfo.InvariantCulture)),
        };
        if (nic.VhostFd is { } vhost)
        {
            properties["vhost"] = JsonSerializer.SerializeToElement(true, QmpJsonContext.Default.Boolean);
            properties["vhostfd"] = Json(vhost.ToString(CultureInfo.InvariantCulture));
        }
        return properties;
    }

    internal static Dictionary<string, JsonElement> DeviceProperties(NetworkDevice nic)
    {
        var properties = new Dictionary<string, JsonElement>(StringComparer.Ordinal)
        {
            ["netdev"] = Json(nic.NetdevId),
            ["mac"] = Json(nic.MacAddress),
            ["bus"] = Json(HotplugPortsDevice.PortId(nic.Index)),
        };
        if (nic.Mtu is { } mtu)
        {
            // QEMU checks JSON types on device_add: host_mtu is a number.
            properties["host_mtu"] = JsonSerializer.SerializeToElement(mtu, QmpJsonContext.Default.Int32);
        }
        return properties;
    }

    private static JsonElement Json(string value) => JsonSerializer.SerializeToElement(value, QmpJsonContext.Default.String);
}
