using Cc.Shim.Network;

namespace Cc.Shim.Tests.Network;

public sealed class IpJsonParserTests
{
    // ip -j addr show in a namespace CNI's bridge plugin set up (iproute2 6.1, Debian 12), shortened.
    internal const string Addresses = """
        [{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"link_type":"loopback",
          "address":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host"},
          {"family":"inet6","local":"::1","prefixlen":128,"scope":"host"}]},
         {"ifindex":2,"link_index":5,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1450,
          "link_type":"ether","address":"b6:f9:3b:46:0b:8f","link_netnsid":0,
          "addr_info":[{"family":"inet","local":"10.88.0.5","prefixlen":16,"scope":"global","label":"eth0"},
          {"family":"inet6","local":"fe80::b4f9:3bff:fe46:b8f","prefixlen":64,"scope":"link"}]}]
        """;

    internal const string Routes = """
        [{"dst":"default","gateway":"10.88.0.1","dev":"eth0","flags":[]},
         {"dst":"10.88.0.0/16","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"10.88.0.5","flags":[]},
         {"type":"blackhole","dst":"10.99.0.0/16","flags":[]},
         {"dst":"10.77.0.0/16","gateway":"10.88.0.254","dev":"eth0","flags":[]}]
        """;

    [Fact]
    public void Addresses_give_each_interface_its_mac_mtu_link_type_and_ipv4_addresses_in_cidr_form()
    {
        var interfaces = IpJsonParser.ParseAddresses(Addresses);

        interfaces.Count.ShouldBe(2);
        interfaces[0].ShouldBe(new NetnsInterface("lo", "00:00:00:00:00:00", 65536, "loopback", interfaces[0].Addresses));
        interfaces[0].Addresses.ShouldBe(["127.0.0.1/8"]);
        interfaces[1].Name.ShouldBe("eth0");
        interfaces[1].MacAddress.ShouldBe("b6:f9:3b:46:0b:8f");
        interfaces[1].Mtu.ShouldBe(1450);
        interfaces[1].LinkType.ShouldBe("ether");
        interfaces[1].Addresses.ShouldBe(["10.88.0.5/16"]);
    }

    [Fact]
    public void Routes_skip_the_kernels_own_link_routes_and_non_unicast_ones()
    {
        IpJsonParser.ParseRoutes(Routes).ShouldBe([
            new NetnsRoute("default", "10.88.0.1", "eth0", null),
            new NetnsRoute("10.77.0.0/16", "10.88.0.254", "eth0", null),
        ]);
    }

    [Fact]
    public void Qdisc_kinds_are_listed_in_order()
    {
        IpJsonParser.ParseQdiscKinds("""[{"kind":"noqueue","handle":"0:","root":true},{"kind":"ingress","handle":"ffff:","parent":"ffff:fff1"}]""")
            .ShouldBe(["noqueue", "ingress"]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"ifname\":\"eth0\"}")]
    [InlineData("Cannot find device \"eth0\"")]
    public void Output_that_is_not_a_json_list_is_a_format_error(string output)
    {
        Should.Throw<FormatException>(() => IpJsonParser.ParseAddresses(output));
    }
}
