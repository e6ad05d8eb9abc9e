using Cc.Hypervisor.Processes;
using Cc.Hypervisor.Qemu;
using Cc.Hypervisor.Qemu.Devices;
using Microsoft.Win32.SafeHandles;

namespace Cc.Hypervisor.Tests.Qemu;

/// <summary>Network interfaces: the tap backend by inherited descriptor, the virtio-net device, and the fd numbering
/// that the command line and the spawner's fd map must agree on.</summary>
public sealed class NetworkDeviceTests : IDisposable
{
    private static readonly HostCapabilities Host = new(KvmUsable: false, QbootPath: null, TscKhz: null, VhostVsock: false);

    // Stand-ins for tap and vhost-net descriptors: the command line only needs distinct open handles.
    private readonly SafeFileHandle _tap0 = File.OpenHandle("/dev/null");
    private readonly SafeFileHandle _tap1 = File.OpenHandle("/dev/null");
    private readonly SafeFileHandle _vhost1 = File.OpenHandle("/dev/null");

    private static VmConfig Config(params NetworkInterfaceConfig[] nics) => new()
    {
        Kernel = new KernelConfig { Path = "/g/vmlinux", InitramfsPath = "/g/initramfs.cpio" },
        RunDirectory = "/run/cc/pod1",
        NetworkInterfaces = nics,
    };

    [Fact]
    public void A_tap_on_q35_is_a_tap_netdev_by_descriptor_and_a_virtio_net_pci_device_with_the_MAC() =>
        new NetworkDevice(VirtioBus.Pci, 0, 3, "02:42:ac:11:00:02").Arguments().ShouldBe(
            ["-netdev", "tap,id=net0,fd=3", "-device", "virtio-net-pci,netdev=net0,mac=02:42:ac:11:00:02"]);

    [Fact]
    public void On_microvm_the_device_is_virtio_net_device_and_the_MTU_is_advertised_as_host_mtu() =>
        new NetworkDevice(VirtioBus.Mmio, 1, 5, "02:00:00:00:00:01", Mtu: 1450).Arguments().ShouldBe(
            ["-netdev", "tap,id=net1,fd=5", "-device", "virtio-net-device,netdev=net1,mac=02:00:00:00:00:01,host_mtu=1450"]);

    [Fact]
    public void A_vhost_net_descriptor_turns_vhost_on() =>
        new NetworkDevice(VirtioBus.Pci, 0, 3, "02:00:00:00:00:01", VhostFd: 4).Arguments().ShouldBe(
            ["-netdev", "tap,id=net0,fd=3,vhost=on,vhostfd=4", "-device", "virtio-net-pci,netdev=net0,mac=02:00:00:00:00:01"]);

    [Fact]
    public void Each_interface_gets_the_next_descriptor_numbers_from_3_and_the_command_line_names_the_same_numbers()
    {
        VmConfig config = Config(
            new NetworkInterfaceConfig { Tap = _tap0, MacAddress = "02:00:00:00:00:01" },
            new NetworkInterfaceConfig { Tap = _tap1, MacAddress = "02:00:00:00:00:02", Mtu = 9000, VhostNet = _vhost1 });

        QemuCommandLine.InheritedFds(config).ShouldBe(
            [new InheritedFd(3, _tap0), new InheritedFd(4, _tap1), new InheritedFd(5, _vhost1)]);
        IReadOnlyList<string> argv = QemuCommandLine.Build(config, RunLayout.For(config), Host);
        string.Join(' ', argv).ShouldContain(
            "-netdev tap,id=net0,fd=3 -device virtio-net-pci,netdev=net0,mac=02:00:00:00:00:01 " +
            "-netdev tap,id=net1,fd=4,vhost=on,vhostfd=5 -device virtio-net-pci,netdev=net1,mac=02:00:00:00:00:02,host_mtu=9000");
    }

    [Fact]
    public void Without_interfaces_QEMU_inherits_nothing_and_has_no_network_device()
    {
        VmConfig config = Config();
        QemuCommandLine.InheritedFds(config).ShouldBeEmpty();
        QemuCommandLine.Build(config, RunLayout.For(config), Host).ShouldNotContain("-netdev");
    }

    [Theory]
    [InlineData("02:00:00:00:00", null, "is not six colon-separated hex bytes")]
    [InlineData("02-00-00-00-00-01", null, "is not six colon-separated hex bytes")]
    [InlineData("01:00:5e:00:00:01", null, "multicast")]
    [InlineData("02:00:00:00:00:01", 67, "outside 68..65535")]
    [InlineData("02:00:00:00:00:01", 65536, "outside 68..65535")]
    public void A_bad_MAC_or_MTU_is_a_config_error_naming_the_interface(string mac, int? mtu, string expected)
    {
        VmConfig config = Config(new NetworkInterfaceConfig { Tap = _tap0, MacAddress = mac, Mtu = mtu });

        Should.Throw<VmConfigException>(() => VmConfigValidation.ValidateNetworkInterfaces(config))
            .Message.ShouldSatisfyAllConditions(m => m.ShouldContain("NetworkInterfaces[0]"), m => m.ShouldContain(expected));
    }

    [Fact]
    public void A_closed_tap_is_a_config_error()
    {
        var closed = File.OpenHandle("/dev/null");
        closed.Dispose();
        VmConfig config = Config(new NetworkInterfaceConfig { Tap = closed, MacAddress = "02:00:00:00:00:01" });

        Should.Throw<VmConfigException>(() => VmConfigValidation.ValidateNetworkInterfaces(config))
            .Message.ShouldBe("NetworkInterfaces[0].Tap is not an open descriptor");
    }

    public void Dispose()
    {
        _tap0.Dispose();
        _tap1.Dispose();
        _vhost1.Dispose();
    }
}
