using System.Net;
using System.Net.Sockets;
using Cc.Agent.Containers;
using Cc.Agent.Protocol.V1;

namespace Cc.Agent.Network;

/// <summary>A network interface of the guest as /sys/class/net shows it.</summary>
internal sealed record GuestLink(int Index, string Name, string MacAddress);

/// <summary>One rtnetlink change; <see cref="RtNetlink"/> carries it out.</summary>
internal abstract record NetworkStep;

internal sealed record RenameLink(int Index, string Name) : NetworkStep;

internal sealed record SetLinkMtu(int Index, int Mtu) : NetworkStep;

internal sealed record SetLinkUp(int Index) : NetworkStep;

internal sealed record AddAddress(int Index, IPAddress Address, int PrefixLength) : NetworkStep;

/// <summary>A main-table unicast route; no <see cref="Gateway"/> = scope link.</summary>
internal sealed record AddRoute(IPAddress Destination, int PrefixLength, IPAddress? Gateway, int Index, IPAddress? Source) : NetworkStep;

/// <summary>
/// The steps that give the guest the pod's network (pure: the same request and links give the same steps). Loopback
/// first; then each interface, found by its MAC (the host gave the virtio-net device the veth's MAC): renamed to the
/// veth's name while it is still down, its MTU, up, its addresses (the kernel adds each address's link route itself);
/// then the routes, link routes before the gateway routes that need them.
/// </summary>
internal static class GuestNetworkPlan
{
    public static IReadOnlyList<NetworkStep> Build(PodNetwork? network, IReadOnlyList<GuestLink> links)
    {
        List<NetworkStep> steps = [];
        if (links.FirstOrDefault(l => l.Name == "lo") is { } lo)
        {
            steps.Add(new SetLinkUp(lo.Index));
        }
        if (network is null)
        {
            return steps;
        }
        var indexOf = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var spec in network.Interfaces)
        {
            var link = links.FirstOrDefault(l => string.Equals(l.MacAddress, spec.MacAddress, StringComparison.OrdinalIgnoreCase))
                ?? throw AgentErrorException.Invalid($"no guest interface has MAC {spec.MacAddress} (for {spec.Name})");
            if (spec.Name.Length is 0 or > 15)
            {
                throw AgentErrorException.Invalid($"interface name \"{spec.Name}\" must be 1..15 bytes");
            }
            if (!indexOf.TryAdd(spec.Name, link.Index))
            {
                throw AgentErrorException.Invalid($"interface {spec.Name} is given twice");
            }
            if (link.Name != spec.Name)
            {
                steps.Add(new RenameLink(link.Index, spec.Name));
            }
            if (spec.Mtu > 0)
            {
                steps.Add(new SetLinkMtu(link.Index, (int)spec.Mtu));
            }
            steps.Add(new SetLinkUp(link.Index));
            foreach (var address in spec.Addresses)
            {
                var (ip, prefix) = Cidr(address);
                steps.Add(new AddAddress(link.Index, ip, prefix));
            }
        }
        foreach (var route in network.Routes.OrderBy(r => r.Gateway.Length > 0 ? 1 : 0))
        {
            if (!indexOf.TryGetValue(route.Device, out var index))
            {
                throw AgentErrorException.Invalid($"route to {route.Destination} names device {route.Device}, which is not a pod interface");
            }
            var (destination, prefix) = route.Destination == "default" ? (IPAddress.Any, 0) : Cidr(route.Destination);
            steps.Add(new AddRoute(destination, prefix, route.Gateway.Length > 0 ? Ipv4(route.Gateway) : null, index,
                route.Source.Length > 0 ? Ipv4(route.Source) : null));
        }
        return steps;
    }

    private static (IPAddress Address, int PrefixLength) Cidr(string text)
    {
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || !int.TryParse(text.AsSpan(slash + 1), System.Globalization.CultureInfo.InvariantCulture, out var prefix)
            || prefix is < 0 or > 32)
        {
            throw AgentErrorException.Invalid($"\"{text}\" is not an IPv4 CIDR (a.b.c.d/n)");
        }
        return (Ipv4(text[..slash]), prefix);
    }

    private static IPAddress Ipv4(string text) =>
        IPAddress.TryParse(text, out var ip) && ip.AddressFamily == AddressFamily.InterNetwork
            ? ip
            : throw AgentErrorException.Invalid($"\"{text}\" is not an IPv4 address (IPv6 is not mirrored)");
}
