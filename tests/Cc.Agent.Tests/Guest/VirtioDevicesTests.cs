using Cc.Agent.Guest;

namespace Cc.Agent.Tests.Guest;

/// <summary>
/// The agent loads AF_VSOCK's modules before ready only when the virtio bus lists a socket device (id 19); it reads the
/// ids from /sys/bus/virtio/devices/virtio&lt;n&gt;/device, which a directory tree stands in for here.
/// </summary>
public sealed class VirtioDevicesTests : IDisposable
{
    private readonly DirectoryInfo _bus = Directory.CreateTempSubdirectory("cc-virtio-bus-");

    public void Dispose() => _bus.Delete(recursive: true);

    private void AddDevice(string name, string id)
    {
        var device = _bus.CreateSubdirectory(name);
        File.WriteAllText(Path.Combine(device.FullName, "device"), id + "\n");
    }

    [Fact]
    public void A_socket_device_among_others_is_found()
    {
        AddDevice("virtio0", "0x0003"); // console
        AddDevice("virtio1", "0x0009"); // 9p
        AddDevice("virtio2", "0x0013"); // socket

        VirtioDevices.Present(VirtioDevices.Socket, _bus.FullName).ShouldBeTrue();
    }

    [Fact]
    public void A_bus_without_a_socket_device_has_none()
    {
        AddDevice("virtio0", "0x0003");
        AddDevice("virtio1", "0x0009");
        AddDevice("virtio2", "0x0001"); // net: 0x0001 must not match 19 read in decimal or as a suffix

        VirtioDevices.Present(VirtioDevices.Socket, _bus.FullName).ShouldBeFalse();
    }

    [Fact]
    public void Unreadable_entries_and_a_missing_bus_count_as_absent()
    {
        _bus.CreateSubdirectory("virtio0"); // no device file
        AddDevice("virtio1", "garbage");

        VirtioDevices.Present(VirtioDevices.Socket, _bus.FullName).ShouldBeFalse();
        VirtioDevices.Present(VirtioDevices.Socket, Path.Combine(_bus.FullName, "absent")).ShouldBeFalse();
    }
}
