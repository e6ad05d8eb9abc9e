using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cc.Shim.Network;

/// <summary>
/// Reads the JSON of iproute2's <c>ip -j addr show</c>, <c>ip -j -4 route show</c> and <c>tc -j qdisc show</c>
/// (iproute2 6.1, Debian 12). Pure; unknown members are ignored, a document that is not such a list is an error.
/// </summary>
public static class IpJsonParser
{
    public static IReadOnlyList<NetnsInterface> ParseAddresses(string json) =>
        [.. Parse(json, IpJsonContext.Default.ListIpLink).Select(link => new NetnsInterface(
            link.IfName ?? throw new FormatException("ip -j addr show: a link without ifname"),
            link.Address ?? "",
            link.Mtu,
            link.LinkType ?? "",
            [.. (link.AddrInfo ?? []).Where(a => a.Family == "inet" && a.Local is not null)
                .Select(a => string.Create(CultureInfo.InvariantCulture, $"{a.Local}/{a.PrefixLen}"))]))];

    /// <summary>The routes, without the ones the kernel makes itself for an address (protocol kernel): the guest's
    /// kernel makes those again when the agent adds the address.</summary>
    public static IReadOnlyList<NetnsRoute> ParseRoutes(string json) =>
        [.. Parse(json, IpJsonContext.Default.ListIpRoute)
            .Where(r => r.Protocol != "kernel" && r.Dst is not null && r.Dev is not null && r.Type is null or "unicast")
            .Select(r => new NetnsRoute(r.Dst!, r.Gateway, r.Dev!, r.PrefSrc))];

    /// <summary>The kinds of the qdiscs <c>tc -j qdisc show dev X</c> lists (e.g. noqueue, ingress).</summary>
    public static IReadOnlyList<string> ParseQdiscKinds(string json) =>
        [.. Parse(json, IpJsonContext.Default.ListTcQdisc).Select(q => q.Kind ?? "")];

    private static List<T> Parse<T>(string json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<List<T>> type)
    {
        try
        {
            return JsonSerializer.Deserialize(json, type) ?? throw new FormatException("iproute2 printed null");
        }
        catch (JsonException e)
        {
            throw new FormatException($"iproute2 printed no JSON list: {e.Message}", e);
        }
    }
}

internal sealed class IpLink
{
    [JsonPropertyName("ifname")] public string? IfName { get; set; }
    [JsonPropertyName("mtu")] public int Mtu { get; set; }
    [JsonPropertyName("link_type")] public string? LinkType { get; set; }
    [JsonPropertyName("address")] public string? Address { get; set; }
    [JsonPropertyName("addr_info")] public List<IpAddrInfo>? AddrInfo { get; set; }
}

internal sealed class IpAddrInfo
{
    [JsonPropertyName("family")] public string? Family { get; set; }
    [JsonPropertyName("local")] public string? Local { get; set; }
    [JsonPropertyName("prefixlen")] public int PrefixLen { get; set; }
}

internal sealed class IpRoute
{
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("dst")] public string? Dst { get; set; }
    [JsonPropertyName("gateway")] public string? Gateway { get; set; }
    [JsonPropertyName("dev")] public string? Dev { get; set; }
    [JsonPropertyName("protocol")] public string? Protocol { get; set; }
    [JsonPropertyName("prefsrc")] public string? PrefSrc { get; set; }
}

internal sealed class TcQdisc
{
    [JsonPropertyName("kind")] public string? Kind { get; set; }
}

[JsonSerializable(typeof(List<IpLink>))]
[JsonSerializable(typeof(List<IpRoute>))]
[JsonSerializable(typeof(List<TcQdisc>))]
internal sealed partial class IpJsonContext : JsonSerializerContext;
