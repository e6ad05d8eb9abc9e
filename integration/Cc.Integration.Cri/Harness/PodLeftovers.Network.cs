using System.Text.RegularExpressions;
using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Cri.Harness;

// What the shim adds to a pod's network (docs/networking.md): a tap per mirrored interface, inside the pod's network
// namespace, and an ingress qdisc on the tap and on CNI's veth, each with a u32 filter whose mirred action redirects
// to the other device; and the port-forward NAT rule (a REDIRECT in the namespace's nat OUTPUT chain). None of it may outlive the pod, in the pod's namespace (which CNI DEL removes) or anywhere
// else: a tap of ours in the host's root namespace would be one the shim made on the wrong thread.
internal static partial class PodLeftovers
{
    /// <summary>src/Cc.Shim/Network/TcMirrorPlan.TapSuffix: every tap the shim makes ends with it, no CNI device does.</summary>
    private const string TapSuffix = "_cc";

    private static readonly TimeSpan s_toolTimeout = TimeSpan.FromSeconds(20);

    /// <summary>Taps of ours and filters redirecting to one: in the host's root namespace, and in the pod's if it is still there.</summary>
    private static async Task<IReadOnlyList<string>> NetworkLeftoversAsync(string? netns)
    {
        var found = new List<string>(await ScanNamespaceAsync(null));
        if (netns is not null && File.Exists(netns))
        {
            found.AddRange(await ScanNamespaceAsync(netns));
        }
        return found;
    }

    private static async Task<IEnumerable<string>> ScanNamespaceAsync(string? netns)
    {
        var where = netns ?? "the host's root network namespace";
        var found = new List<string>();
        var links = await RunInAsync(netns, "ip", "-o", "link", "show");
        foreach (Match link in LinkName().Matches(links))
        {
            if (link.Groups[1].Value.EndsWith(TapSuffix, StringComparison.Ordinal))
            {
                found.Add($"tap of ours left in {where}: {link.Groups[1].Value}");
            }
        }
        // One call lists every qdisc; filters are listed per device, only where an ingress qdisc exists.
        var qdiscs = await RunInAsync(netns, "tc", "qdisc", "show");
        foreach (Match ingress in IngressQdisc().Matches(qdiscs))
        {
            var dev = ingress.Groups[1].Value;
            var filters = await RunInAsync(netns, "tc", "filter", "show", "dev", dev, "ingress");
            foreach (Match redirect in RedirectToTap().Matches(filters))
            {
                found.Add($"tc filter left in {where}: ingress of {dev} redirects to {redirect.Groups[1].Value}");
            }
        }
        // The port-forward rule lives in the pod's namespace only; the host's own NAT rules are not ours to judge.
        if (netns is not null)
        {
            var nat = await RunInAsync(netns, "iptables", "-w", "5", "-t", "nat", "-S", "OUTPUT");
            found.AddRange(nat.Split('\n').Where(rule => rule.Contains("-j REDIRECT", StringComparison.Ordinal))
                .Select(rule => $"NAT rule left in {where}: {rule.Trim()}"));
        }
        return found;
    }

    private static async Task<string> RunInAsync(string? netns, string program, params string[] args)
    {
        var result = netns is null
            ? await ProcessRunner.RunAsync(program, args, s_toolTimeout, CancellationToken.None)
            : await ProcessRunner.RunAsync("nsenter", [$"--net={netns}", program, .. args], s_toolTimeout, CancellationToken.None);
        // A namespace removed while we looked has nothing of ours left; any other failure must not pass as "nothing".
        if (result.ExitCode != 0 && (netns is null || File.Exists(netns)))
        {
            throw new InvalidOperationException($"listing the network of {netns ?? "the host"} failed:\n{result.Describe()}");
        }
        return result.Stdout;
    }

    // "3: tap0_cc: <BROADCAST,...>" or "4: eth0@if9: <...>": the name, without the peer suffix.
    [GeneratedRegex(@"^\d+:\s+([^:@\s]+)(?:@[^:\s]+)?:", RegexOptions.Multiline)]
    private static partial Regex LinkName();

    // "qdisc ingress ffff: dev eth0 parent ffff:fff1 ----------------"
    [GeneratedRegex(@"^qdisc ingress \S+ dev (\S+) ", RegexOptions.Multiline)]
    private static partial Regex IngressQdisc();

    // "action order 1: mirred (Egress Redirect to device tap0_cc) stolen"
    [GeneratedRegex(@"Redirect to device (\S+_cc)\)")]
    private static partial Regex RedirectToTap();
}
