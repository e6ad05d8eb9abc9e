namespace Cc.Shim.Network;

/// <summary>One interface of the pod's network namespace as CNI left it: what the guest interface copies.</summary>
/// <param name="Addresses">IPv4 addresses in CIDR form (10.88.0.5/16); IPv6 is not mirrored (docs/networking.md).</param>
public sealed record NetnsInterface(string Name, string MacAddress, int Mtu, string LinkType, IReadOnlyList<string> Addresses);

/// <summary>An IPv4 route of the namespace's main table. <see cref="Destination"/> is CIDR or <c>default</c>.</summary>
public sealed record NetnsRoute(string Destination, string? Gateway, string Device, string? Source);

/// <summary>What <c>ip</c> reports of one network namespace: its interfaces (loopback included) and IPv4 routes.</summary>
public sealed record NetnsSnapshot(IReadOnlyList<NetnsInterface> Interfaces, IReadOnlyList<NetnsRoute> Routes);
