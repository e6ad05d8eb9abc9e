using System.Net;
using System.Net.Sockets;
using Cc.Integration.Containerd.Harness;
using Cc.Shim.Network;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Integration.Containerd.Network;

/// <summary>
/// The host side of pod networking against the real kernel, iproute2 and /dev/net/tun, without a VM: the tap and the
/// redirects appear in the namespace, and go again. Needs root (namespaces, tc).
/// </summary>
[Trait("Category", "Shim")]
public sealed class PodNetworkTests
{
    private static CancellationToken Budget => new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    [Fact]
    public async Task Attach_mirrors_eth0_through_a_tap_with_redirects_both_ways_and_detach_leaves_only_the_veth()
    {
        await using var netns = await TestNetns.CreateAsync(Budget);
        var runDirectory = Directory.CreateTempSubdirectory("cc-net-test.").FullName;
        try
        {
            var network = PodNetwork.Attach(netns.Path, runDirectory, NsenterRunner.Instance, NullLogger.Instance);

            network.Interfaces.Count.ShouldBe(1);
            var eth0 = network.Interfaces[0];
            (eth0.Name, eth0.MacAddress, eth0.Mtu).ShouldBe(("eth0", netns.PodMac, TestNetns.PodMtu));
            eth0.Addresses.ShouldBe([netns.PodAddress + "/24"]);
            network.Routes.ShouldBe([new NetnsRoute("default", netns.PeerAddress, "eth0", null)]);
            File.Exists(Path.Combine(runDirectory, NetworkRecord.FileName)).ShouldBeTrue();

            var tap = await netns.InPodAsync(Budget, "/usr/sbin/ip", "-d", "link", "show", "tap0_cc");
            tap.ShouldContain("tun type tap");
            tap.ShouldContain($"mtu {TestNetns.PodMtu}");
            (await netns.InPodAsync(Budget, "/usr/sbin/tc", "filter", "show", "dev", "eth0", "ingress"))
                .ShouldContain("Egress Redirect to device tap0_cc");
            (await netns.InPodAsync(Budget, "/usr/sbin/tc", "filter", "show", "dev", "tap0_cc", "ingress"))
                .ShouldContain("Egress Redirect to device eth0");

            network.Detach();

            (await netns.InPodAsync(Budget, "/usr/sbin/ip", "-o", "link", "show")).ShouldNotContain("tap0_cc");
            (await netns.InPodAsync(Budget, "/usr/sbin/tc", "qdisc", "show", "dev", "eth0")).ShouldNotContain("ingress");
            (await netns.InPodAsync(Budget, "/usr/sbin/ip", "-o", "addr", "show", "dev", "eth0")).ShouldContain(netns.PodAddress);
            File.Exists(Path.Combine(runDirectory, NetworkRecord.FileName)).ShouldBeFalse();
            network.Detach(); // idempotent
        }
        finally
        {
            Directory.Delete(runDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task Attach_redirects_a_dial_of_localhost_in_the_namespace_to_its_listener_which_reads_the_port_and_detach_removes_the_rule()
    {
        await using var netns = await TestNetns.CreateAsync(Budget);
        var runDirectory = Directory.CreateTempSubdirectory("cc-net-test.").FullName;
        try
        {
            var network = PodNetwork.Attach(netns.Path, runDirectory, NsenterRunner.Instance, NullLogger.Instance);
            var listener = network.Forwarding.ShouldNotBeNull("loopback is up and iptables is installed");
            (await netns.InPodAsync(Budget, "/usr/sbin/iptables", "-t", "nat", "-S", "OUTPUT"))
                .ShouldContain($"-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp ! --dport {listener.Port} -j REDIRECT --to-ports {listener.Port}");
            NetworkRecord.Read(runDirectory)!.PortForwardPort.ShouldBe(listener.Port);

            // What containerd's port-forward goroutine does: dial 127.0.0.1:<port> from a thread inside the namespace.
            using var dialer = NetnsThread.Run(netns.Path, "test-dial", () =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Connect(new IPEndPoint(IPAddress.Loopback, 8080));
                return socket;
            });
            using var accepted = await listener.Socket.AcceptAsync(Budget);
            listener.DestinationPort(accepted).ShouldBe(8080);

            network.Detach();

            (await netns.InPodAsync(Budget, "/usr/sbin/iptables", "-t", "nat", "-S", "OUTPUT")).ShouldNotContain("REDIRECT");
            Should.Throw<ObjectDisposedException>(() => listener.Socket.Listen(1));
            File.Exists(Path.Combine(runDirectory, NetworkRecord.FileName)).ShouldBeFalse();
        }
        finally
        {
            Directory.Delete(runDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task An_interface_that_already_has_an_ingress_qdisc_is_refused_and_nothing_of_ours_stays()
    {
        await using var netns = await TestNetns.CreateAsync(Budget);
        var runDirectory = Directory.CreateTempSubdirectory("cc-net-test.").FullName;
        try
        {
            await netns.InPodAsync(Budget, "/usr/sbin/tc", "qdisc", "add", "dev", "eth0", "handle", "ffff:", "ingress");

            var e = Should.Throw<NetworkSetupException>(() =>
                PodNetwork.Attach(netns.Path, runDirectory, NsenterRunner.Instance, NullLogger.Instance));

            e.Message.ShouldContain("already has an ingress qdisc");
            (await netns.InPodAsync(Budget, "/usr/sbin/ip", "-o", "link", "show")).ShouldNotContain("tap0_cc");
            File.Exists(Path.Combine(runDirectory, NetworkRecord.FileName)).ShouldBeFalse();
        }
        finally
        {
            Directory.Delete(runDirectory, recursive: true);
        }
    }
}
