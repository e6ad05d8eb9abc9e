using System.Net;
using Cc.Agent.Containers;
using Cc.Agent.Network;
using Cc.Agent.Protocol.V1;

namespace Cc.Agent.Tests.Network;

public sealed class GuestNetworkPlanTests
{
    private static readonly GuestLink Lo = new(1, "lo", "00:00:00:00:00:00");
    private static readonly GuestLink Virtio = new(2, "eth0", "b6:f9:3b:46:0b:8f");

    private static PodNetwork Pod(params NetworkRoute[] routes)
    {
        var network = new PodNetwork();
        var eth0 = new NetworkInterface { Name = "eth0", MacAddress = "B6:F9:3B:46:0B:8F", Mtu = 1450 };
        eth0.Addresses.Add("10.88.0.5/16");
        network.Interfaces.Add(eth0);
        network.Routes.Add(routes);
        return network;
    }

    [Fact]
    public void No_pod_network_brings_up_loopback_only()
    {
        GuestNetworkPlan.Build(null, [Lo, Virtio]).ShouldBe([new SetLinkUp(1)]);
    }

    [Fact]
    public void The_interface_with_the_veths_mac_gets_its_mtu_addresses_and_routes_link_routes_first()
    {
        var steps = GuestNetworkPlan.Build(Pod(
            new NetworkRoute { Destination = "default", Gateway = "10.88.0.1", Device = "eth0" },
            new NetworkRoute { Destination = "10.99.0.0/24", Device = "eth0", Source = "10.88.0.5" }), [Lo, Virtio]);

        steps.ShouldBe([
            new SetLinkUp(1),
            new SetLinkMtu(2, 1450),
            new SetLinkUp(2),
            new AddAddress(2, IPAddress.Parse("10.88.0.5"), 16),
            new AddRoute(IPAddress.Parse("10.99.0.0"), 24, null, 2, IPAddress.Parse("10.88.0.5")),
            new AddRoute(IPAddress.Any, 0, IPAddress.Parse("10.88.0.1"), 2, null),
        ]);
    }

    [Fact]
    public void A_guest_interface_with_another_name_is_renamed_before_it_comes_up()
    {
        var steps = GuestNetworkPlan.Build(Pod(), [Lo, Virtio with { Name = "ens3" }]);

        steps.Take(3).ShouldBe([new SetLinkUp(1), new RenameLink(2, "eth0"), new SetLinkMtu(2, 1450)]);
    }

    [Fact]
    public void A_mac_no_guest_interface_has_is_an_invalid_argument()
    {
        var e = Should.Throw<AgentErrorException>(() => GuestNetworkPlan.Build(Pod(), [Lo]));

        e.Message.ShouldContain("no guest interface has MAC B6:F9:3B:46:0B:8F");
    }

    [Theory]
    [InlineData("10.88.0.5")]
    [InlineData("10.88.0.5/33")]
    [InlineData("fd00::5/64")]
    public void Addresses_that_are_not_ipv4_cidrs_are_refused(string address)
    {
        var network = Pod();
        network.Interfaces[0].Addresses[0] = address;

        Should.Throw<AgentErrorException>(() => GuestNetworkPlan.Build(network, [Lo, Virtio]));
    }

    [Fact]
    public void A_route_through_a_device_that_is_not_a_pod_interface_is_refused()
    {
        Should.Throw<AgentErrorException>(() => GuestNetworkPlan.Build(
            Pod(new NetworkRoute { Destination = "default", Gateway = "10.88.0.1", Device = "eth1" }), [Lo, Virtio]))
            .Message.ShouldContain("eth1");
    }

    [Fact]
    public void Route_messages_carry_table_scope_destination_gateway_and_device()
    {
        var message = RtNetlink.Encode(new AddRoute(IPAddress.Any, 0, IPAddress.Parse("10.88.0.1"), 2, null), 7);

        // nlmsghdr: length, RTM_NEWROUTE (24), REQUEST|ACK|EXCL|CREATE, sequence 7.
        BitConverter.ToUInt32(message, 0).ShouldBe((uint)message.Length);
        BitConverter.ToUInt16(message, 4).ShouldBe((ushort)24);
        BitConverter.ToUInt16(message, 6).ShouldBe((ushort)0x605);
        BitConverter.ToUInt32(message, 8).ShouldBe(7u);
        // rtmsg: AF_INET, /0, table main, boot protocol, scope universe, unicast; then RTA_GATEWAY and RTA_OIF.
        message[16..28].ShouldBe(new byte[] { 2, 0, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0 });
        message[28..36].ShouldBe(new byte[] { 8, 0, 5, 0, 10, 88, 0, 1 });
        message[36..44].ShouldBe(new byte[] { 8, 0, 4, 0, 2, 0, 0, 0 });
        message.Length.ShouldBe(44);
    }

    [Fact]
    public void An_acknowledgement_gives_the_kernels_errno()
    {
        var ack = new byte[36];
        BitConverter.GetBytes(36u).CopyTo(ack, 0);
        BitConverter.GetBytes((ushort)2).CopyTo(ack, 4);
        BitConverter.GetBytes(9u).CopyTo(ack, 8);
        BitConverter.GetBytes(-17).CopyTo(ack, 16);

        RtNetlink.AckError(ack, 9).ShouldBe(17);
        Should.Throw<IOException>(() => RtNetlink.AckError(ack, 10));
    }

    [Fact]
    public void Hosts_and_resolv_conf_are_written_as_given()
    {
        var network = Pod();
        network.Hosts.Add(new HostEntry { Address = "10.88.0.9", Names = { "db", "db.local" } });
        network.Dns = new DnsConfig { Servers = { "10.96.0.10" }, Searches = { "default.svc.cluster.local", "svc.cluster.local" }, Options = { "ndots:5" } };

        ResolverFiles.Hosts(network, "web-0").ShouldBe(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.88.0.5\tweb-0\n10.88.0.9\tdb db.local\n");
        ResolverFiles.ResolvConf(network.Dns).ShouldBe(
            "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local\noptions ndots:5\n");
        ResolverFiles.ResolvConf(new DnsConfig()).ShouldBeNull();
    }
}
