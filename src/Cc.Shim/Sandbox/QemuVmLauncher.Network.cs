using Cc.Hypervisor;
using Cc.Shim.Network;
using Microsoft.Extensions.Logging;
using V1 = Cc.Agent.Protocol.V1;

namespace Cc.Shim.Sandbox;

// The pod's network at launch (docs/networking.md): the namespace the spec names is mirrored into taps before QEMU
// starts, the taps go to QEMU as virtio-net devices, and the agent is told what to configure on them.
public sealed partial class QemuVmLauncher
{
    /// <summary>Mirrors the spec's network namespace, or returns null (no namespace path: the guest has loopback only).</summary>
    private async Task<PodNetwork?> AttachNetworkAsync(VmLaunchRequest request)
    {
        if (request.Spec.NetworkNamespacePath is not { } netns)
        {
            Log.LoopbackOnly(_logger, request.SandboxId);
            return null;
        }
        try
        {
            // ip/tc children and a setns thread: off the caller's thread, bounded per command (NsenterRunner.Timeout).
            return await Task.Run(() => PodNetwork.Attach(netns, request.RunDirectory, NsenterRunner.Instance, _logger))
                .ConfigureAwait(false);
        }
        catch (NetworkSetupException e)
        {
            throw new PreconditionFailedException($"sandbox {request.SandboxId}: the pod's network cannot be mirrored into the VM: {e.Message}");
        }
    }

    private static IReadOnlyList<NetworkInterfaceConfig> Nics(PodNetwork? network) =>
        network is null
            ? []
            : [.. network.Interfaces.Select(i => new NetworkInterfaceConfig { Tap = i.Tap, MacAddress = i.MacAddress, Mtu = i.Mtu })];

    private static V1.PodNetwork? ToRequest(PodNetwork? network, SandboxSpec spec)
    {
        if (network is null)
        {
            return null;
        }
        var message = new V1.PodNetwork();
        foreach (var i in network.Interfaces)
        {
            var nic = new V1.NetworkInterface { Name = i.Name, MacAddress = i.MacAddress, Mtu = (uint)i.Mtu };
            nic.Addresses.Add(i.Addresses);
            message.Interfaces.Add(nic);
        }
        foreach (var r in network.Routes)
        {
            message.Routes.Add(new V1.NetworkRoute { Destination = r.Destination, Gateway = r.Gateway ?? "", Device = r.Device, Source = r.Source ?? "" });
        }
        if (spec.ResolvConfPath is { } resolv && ResolvConf.TryRead(resolv) is { } dns)
        {
            message.Dns = dns;
        }
        return message;
    }

    private static async Task DetachNetworkAsync(PodNetwork? network)
    {
        if (network is not null)
        {
            await Task.Run(network.Detach).ConfigureAwait(false);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 121, Level = LogLevel.Information,
            Message = "Sandbox {SandboxId}: the spec names no network namespace: the guest has loopback only")]
        public static partial void LoopbackOnly(ILogger logger, string sandboxId);
    }
}

/// <summary>The nameserver, search and options lines of a host resolv.conf, for the guest's copy.</summary>
internal static class ResolvConf
{
    public static V1.DnsConfig? TryRead(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        return Parse(lines);
    }

    internal static V1.DnsConfig Parse(IEnumerable<string> lines)
    {
        var dns = new V1.DnsConfig();
        foreach (var line in lines)
        {
            var words = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (words.Length < 2)
            {
                continue;
            }
            switch (words[0])
            {
                case "nameserver":
                    dns.Servers.Add(words[1]);
                    break;
                case "search":
                    dns.Searches.Clear();
                    dns.Searches.Add(words[1..]);
                    break;
                case "options":
                    dns.Options.Add(words[1..]);
                    break;
            }
        }
        return dns;
    }
}
