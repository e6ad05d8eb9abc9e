using System.Text.Json;
using Cc.Hypervisor.Processes;
using Cc.Hypervisor.Qemu;
using Cc.Hypervisor.Qemu.Devices;
using Cc.Hypervisor.Tests.Qmp;
using Cc.TestKit;
using Microsoft.Win32.SafeHandles;

namespace Cc.Hypervisor.Tests.Qemu;

/// <summary>
/// NICs for a template's clone (docs/templates.md, "Network interfaces"): the template carries empty PCIe root ports,
/// the clone inherits its taps through the fd map as a cold boot does but has no netdev or NIC on its command line, and
/// the QMP commands that add them afterwards name the same descriptor numbers and ports.
/// </summary>
public sealed class NetworkHotplugTests : IDisposable
{
    private static readonly HostCapabilities Host = new(KvmUsable: false, QbootPath: null, TscKhz: null, VhostVsock: false);

    private readonly SafeFileHandle _tap0 = File.OpenHandle("/dev/null");
    private readonly SafeFileHandle _tap1 = File.OpenHandle("/dev/null");
    private readonly SafeFileHandle _vhost1 = File.OpenHandle("/dev/null");

    public void Dispose()
    {
        _tap0.Dispose();
        _tap1.Dispose();
        _vhost1.Dispose();
    }

    private VmConfig Clone(int ports = 4) => new()
    {
        Kernel = new KernelConfig { Path = "/g/vmlinux", InitramfsPath = "/g/initramfs.cpio" },
        RunDirectory = "/run/cc/pod1",
        HotplugPorts = ports,
        NetworkHotplug = true,
        NetworkInterfaces =
        [
            new NetworkInterfaceConfig { Tap = _tap0, MacAddress = "02:00:00:00:00:01", Mtu = 1450 },
            new NetworkInterfaceConfig { Tap = _tap1, MacAddress = "02:00:00:00:00:02", VhostNet = _vhost1 },
        ],
    };

    [Fact]
    public void Hot_plug_ports_are_pcie_root_ports_with_distinct_chassis_numbers() =>
        new HotplugPortsDevice(2).Arguments().ShouldBe(
            ["-device", "pcie-root-port,id=cc-hp0,chassis=1", "-device", "pcie-root-port,id=cc-hp1,chassis=2"]);

    [Fact]
    public void A_clone_inherits_every_tap_at_the_usual_numbers_but_its_command_line_has_no_netdev_or_nic()
    {
        VmConfig config = Clone();
        QemuCommandLine.InheritedFds(config).ShouldBe(
            [new InheritedFd(3, _tap0), new InheritedFd(4, _tap1), new InheritedFd(5, _vhost1)]);
        string argv = string.Join(' ', QemuCommandLine.Build(config, RunLayout.For(config), Host));
        argv.ShouldNotContain("-netdev");
        argv.ShouldNotContain("virtio-net");
        argv.ShouldContain("pcie-root-port,id=cc-hp3,chassis=4");
    }

    [Fact]
    public void The_QMP_properties_name_the_inherited_descriptors_the_MAC_the_MTU_and_the_interfaces_own_port()
    {
        IReadOnlyList<NetworkDevice> nics = QemuCommandLine.NetworkDevices(Clone(), VirtioBus.Pci);
        Json(QemuVirtualMachine.NetdevProperties(nics[0])).ShouldBe("""{"fd":"3"}""");
        Json(QemuVirtualMachine.DeviceProperties(nics[0])).ShouldBe(
            """{"netdev":"net0","mac":"02:00:00:00:00:01","bus":"cc-hp0","host_mtu":1450}""");
        Json(QemuVirtualMachine.NetdevProperties(nics[1])).ShouldBe("""{"fd":"4","vhost":true,"vhostfd":"5"}""");
        Json(QemuVirtualMachine.DeviceProperties(nics[1])).ShouldBe("""{"netdev":"net1","mac":"02:00:00:00:00:02","bus":"cc-hp1"}""");
        QemuVirtualMachine.DeviceId(nics[1]).ShouldBe("nic1");
    }

    [Fact]
    public void More_interfaces_than_ports_or_ports_on_microvm_are_refused_before_QEMU_starts()
    {
        Should.Throw<VmConfigException>(() => VmConfigValidation.ValidateHotplug(Clone(ports: 1)))
            .Message.ShouldContain("2 network interface(s) to hot-plug but only 1 hot-plug port(s)");
        Should.Throw<VmConfigException>(() => VmConfigValidation.ValidateHotplug(
                Clone() with { NetworkInterfaces = [], NetworkHotplug = false, Machine = MachineType.Microvm }))
            .Message.ShouldContain("microvm");
    }

    [Fact]
    public async Task Netdev_add_sends_the_type_the_id_and_the_backends_properties()
    {
        await using var server = new FakeQmpServer();
        var (client, peer) = await server.ConnectClientAsync();
        await using (client)
        using (peer)
        {
            Task add = client.NetdevAddAsync("tap", "net0", QemuVirtualMachine.NetdevProperties(
                QemuCommandLine.NetworkDevices(Clone(), VirtioBus.Pci)[0]), CancellationToken.None);
            JsonElement request = await peer.ReceiveAsync();
            request.GetProperty("execute").GetString().ShouldBe("netdev_add");
            request.GetProperty("arguments").GetRawText().ShouldBe("""{"type":"tap","id":"net0","fd":"3"}""");
            await peer.ReplyAsync(request, "{}");
            await add.WithTimeout();
        }
    }

    private static string Json(Dictionary<string, JsonElement> properties) =>
        JsonSerializer.Serialize(properties, Cc.Hypervisor.Qmp.QmpJsonContext.Default.DictionaryStringJsonElement);
}
