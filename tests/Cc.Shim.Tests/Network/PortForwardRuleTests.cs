using System.Buffers.Binary;
using Cc.Shim.Network;

namespace Cc.Shim.Tests.Network;

public sealed class PortForwardRuleTests
{
    [Fact]
    public void The_rule_redirects_local_tcp_to_127_0_0_1_on_every_port_but_the_listeners_to_the_listener()
    {
        PortForwardRule.Add(41234).ToString().ShouldBe(
            "iptables -w 5 -t nat -A OUTPUT -d 127.0.0.1/32 -p tcp ! --dport 41234 -j REDIRECT --to-ports 41234");
    }

    [Fact]
    public void Check_and_delete_name_the_same_rule_as_add()
    {
        var add = PortForwardRule.Add(80).Arguments.ToList();
        foreach (var (command, operation) in new[] { (PortForwardRule.Check(80), "-C"), (PortForwardRule.Delete(80), "-D") })
        {
            var arguments = command.Arguments.ToList();
            arguments[arguments.IndexOf(operation)] = "-A";
            arguments.ShouldBe(add);
        }
    }

    [Fact]
    public void The_original_destination_port_is_read_in_network_order_from_a_sockaddr_in()
    {
        // What getsockopt(SO_ORIGINAL_DST) gave for a dial of 127.0.0.1:8080 redirected in a namespace on this host.
        var sockaddr = Convert.FromHexString("02001f907f0000010000000000000000");

        OriginalDestination.TryParsePort(sockaddr, out var port).ShouldBeTrue();
        port.ShouldBe(8080);
    }

    [Theory]
    [InlineData("0a001f9000000000000000000000000000000001000000000000")] // AF_INET6
    [InlineData("0200")] // short
    [InlineData("020000007f000001")] // port 0
    public void Anything_but_an_af_inet_address_with_a_port_is_refused(string hex)
    {
        OriginalDestination.TryParsePort(Convert.FromHexString(hex), out _).ShouldBeFalse();
    }

    [Fact]
    public void Every_port_survives_the_round_trip()
    {
        var sockaddr = new byte[16];
        BitConverter.TryWriteBytes(sockaddr.AsSpan(0, 2), (ushort)2).ShouldBeTrue();
        foreach (var expected in new[] { 1, 255, 256, 32768, 65535 })
        {
            BinaryPrimitives.WriteUInt16BigEndian(sockaddr.AsSpan(2), (ushort)expected);
            OriginalDestination.TryParsePort(sockaddr, out var port).ShouldBeTrue();
            port.ShouldBe(expected);
        }
    }
}
