using Cc.Shim.Network;

namespace Cc.Shim.Tests.Network;

public sealed class TcMirrorPlanTests
{
    private static readonly NetnsInterface Eth0 = new("eth0", "b6:f9:3b:46:0b:8f", 1450, "ether", ["10.88.0.5/16"]);

    [Fact]
    public void Every_ethernet_interface_gets_a_tap_of_its_own_and_loopback_and_our_own_taps_none()
    {
        var mirrors = TcMirrorPlan.Select([
            new NetnsInterface("lo", "00:00:00:00:00:00", 65536, "loopback", ["127.0.0.1/8"]),
            Eth0,
            new NetnsInterface("tap0_cc", "6e:00:00:00:00:01", 1500, "ether", []),
            new NetnsInterface("net1", "aa:bb:cc:dd:ee:01", 9000, "ether", ["192.168.5.2/24"]),
        ]);

        mirrors.Select(m => (m.Interface.Name, m.TapName)).ShouldBe([("eth0", "tap0_cc"), ("net1", "tap1_cc")]);
    }

    [Fact]
    public void Set_up_raises_the_tap_with_the_veths_mtu_then_redirects_ingress_both_ways()
    {
        var plan = TcMirrorPlan.SetUp(new MirroredInterface(Eth0, "tap0_cc")).Select(c => c.ToString()).ToList();

        plan.ShouldBe([
            "ip link set dev tap0_cc mtu 1450 up",
            "tc qdisc add dev eth0 handle ffff: ingress",
            "tc filter add dev eth0 parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev tap0_cc",
            "tc qdisc add dev tap0_cc handle ffff: ingress",
            "tc filter add dev tap0_cc parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev eth0",
        ]);
    }

    [Fact]
    public void Tear_down_removes_only_what_is_still_there_and_never_the_veth()
    {
        TcMirrorPlan.TearDown("eth0", "tap0_cc", vethHasIngress: true, tapExists: true).Select(c => c.ToString()).ShouldBe([
            "tc qdisc del dev eth0 handle ffff: ingress",
            "ip link del dev tap0_cc",
        ]);
        TcMirrorPlan.TearDown("eth0", "tap0_cc", vethHasIngress: false, tapExists: false).ShouldBeEmpty();
    }
}
