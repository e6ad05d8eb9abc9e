using System.Diagnostics;
using Cc.Agent.Containers;
using Cc.Agent.Protocol.V1;
using Microsoft.Extensions.Logging;

namespace Cc.Agent.Network;

/// <summary>
/// Gives the guest's root network namespace (the pod's network: every container of a pod runs in it) the interfaces,
/// addresses and routes the host mirrored, through rtnetlink, and writes /etc/hosts and /etc/resolv.conf. Loopback is
/// brought up in every case. Only PID 1 of a guest touches the network: an agent run on a host (tests) leaves it be.
/// </summary>
public sealed partial class GuestNetwork(ILogger logger, string sysClassNet = "/sys/class/net", string etc = "/etc",
    bool enabled = true)
{
    /// <summary>How long the virtio-net devices may take to appear after virtio_net loaded (its probe is asynchronous).</summary>
    public static readonly TimeSpan LinkTimeout = TimeSpan.FromSeconds(10);

    public static GuestNetwork ForThisProcess(ILogger logger) => new(logger, enabled: Environment.ProcessId == 1);

    public async Task ApplyAsync(PodNetwork? network, string hostname, CancellationToken cancellationToken)
    {
        if (!enabled)
        {
            return;
        }
        var links = network is null ? ReadLinks() : await WaitForLinksAsync(network, cancellationToken).ConfigureAwait(false);
        var steps = GuestNetworkPlan.Build(network, links);
        using (var netlink = RtNetlink.Open())
        {
            foreach (var step in steps)
            {
                netlink.Apply(step);
            }
        }
        if (network is null || network.Interfaces.Count == 0)
        {
            LoopbackOnly(logger);
            return;
        }
        foreach (var i in network.Interfaces)
        {
            Configured(logger, i.Name, i.MacAddress, string.Join(' ', i.Addresses), (int)i.Mtu);
        }
        await File.WriteAllTextAsync(Path.Combine(etc, "hosts"), ResolverFiles.Hosts(network, hostname), cancellationToken)
            .ConfigureAwait(false);
        if (ResolverFiles.ResolvConf(network.Dns) is { } resolv)
        {
            await File.WriteAllTextAsync(Path.Combine(etc, "resolv.conf"), resolv, cancellationToken).ConfigureAwait(false);
        }
    }

    // The devices are there once every MAC the host named is; bounded, since a device QEMU never got never appears.
    private async Task<IReadOnlyList<GuestLink>> WaitForLinksAsync(PodNetwork network, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var links = ReadLinks();
            var missing = network.Interfaces.Where(i => !links.Any(l =>
                string.Equals(l.MacAddress, i.MacAddress, StringComparison.OrdinalIgnoreCase))).ToList();
            if (missing.Count == 0)
            {
                return links;
            }
            if (clock.Elapsed > LinkTimeout)
            {
                throw AgentErrorException.Precondition(
                    $"no guest network device with MAC {missing[0].MacAddress} appeared within {LinkTimeout.TotalSeconds} s " +
                    $"(guest links: {string.Join(", ", links.Select(l => $"{l.Name} {l.MacAddress}"))})");
            }
            await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken).ConfigureAwait(false);
        }
    }

    private List<GuestLink> ReadLinks()
    {
        List<GuestLink> links = [];
        if (!Directory.Exists(sysClassNet))
        {
            return links;
        }
        foreach (var directory in Directory.EnumerateDirectories(sysClassNet))
        {
            try
            {
                var index = int.Parse(File.ReadAllText(Path.Combine(directory, "ifindex")).Trim(),
                    System.Globalization.CultureInfo.InvariantCulture);
                links.Add(new GuestLink(index, Path.GetFileName(directory), File.ReadAllText(Path.Combine(directory, "address")).Trim()));
            }
            catch (Exception e) when (e is IOException or FormatException)
            {
                // A link that went away while we looked is not one of ours.
            }
        }
        return links;
    }

    [LoggerMessage(401, LogLevel.Information, "network: no pod network namespace on the host: loopback only")]
    private static partial void LoopbackOnly(ILogger logger);

    [LoggerMessage(402, LogLevel.Information, "network: {Interface} {Mac} {Addresses} mtu {Mtu} configured")]
    private static partial void Configured(ILogger logger, string @interface, string mac, string addresses, int mtu);
}
