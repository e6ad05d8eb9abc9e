using System.Text;
using Cc.Agent.Protocol.V1;

namespace Cc.Agent.Network;

/// <summary>The guest's /etc/hosts and /etc/resolv.conf, as the pod's network gives them (pure).</summary>
internal static class ResolverFiles
{
    /// <summary>localhost, then the hostname on the first pod address (as kubelet's hosts file has it), then the
    /// given entries.</summary>
    public static string Hosts(PodNetwork network, string hostname)
    {
        var text = new StringBuilder("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        var first = network.Interfaces.SelectMany(i => i.Addresses).FirstOrDefault();
        if (first is not null && hostname.Length > 0)
        {
            text.Append(first.AsSpan(0, first.IndexOf('/') is var slash and >= 0 ? slash : first.Length)).Append('\t').Append(hostname).Append('\n');
        }
        foreach (var entry in network.Hosts)
        {
            text.Append(entry.Address).Append('\t').AppendJoin(' ', entry.Names).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>resolv.conf, or null when the pod gives no DNS at all (the file is then left alone).</summary>
    public static string? ResolvConf(DnsConfig? dns)
    {
        if (dns is null || dns.Servers.Count + dns.Searches.Count + dns.Options.Count == 0)
        {
            return null;
        }
        var text = new StringBuilder();
        foreach (var server in dns.Servers)
        {
            text.Append("nameserver ").Append(server).Append('\n');
        }
        if (dns.Searches.Count > 0)
        {
            text.Append("search ").AppendJoin(' ', dns.Searches).Append('\n');
        }
        if (dns.Options.Count > 0)
        {
            text.Append("options ").AppendJoin(' ', dns.Options).Append('\n');
        }
        return text.ToString();
    }
}
