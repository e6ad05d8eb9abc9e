using System.Security.Cryptography;

namespace Cc.Integration.Containerd.Harness;

/// <summary>
/// A pod network namespace as CNI would leave it, made with iproute2: <c>cc-test-&lt;r&gt;</c> holds <c>eth0</c>
/// (<see cref="PodAddress"/>/24, a default route through <see cref="PeerAddress"/>), whose veth peer sits in a second
/// namespace <c>cc-test-&lt;r&gt;-peer</c> standing in for the pod network. Nothing lives in the host's own namespace,
/// and the 10.234.x.0/24 addresses are only ever seen between these two namespaces of this machine.
/// Disposing deletes both namespaces (the veth pair goes with them).
/// </summary>
internal sealed class TestNetns : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(10);

    private TestNetns(string name, int subnet, string mac)
    {
        Name = name;
        PodAddress = $"10.234.{subnet}.2";
        PeerAddress = $"10.234.{subnet}.1";
        PodMac = mac;
    }

    public string Name { get; }

    public string PeerName => Name + "-peer";

    public string Path => "/var/run/netns/" + Name;

    public string PodAddress { get; }

    public string PeerAddress { get; }

    public string PodMac { get; }

    public const int PodMtu = 1400;

    public static async Task<TestNetns> CreateAsync(CancellationToken cancellationToken)
    {
        var suffix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
        var mac = "02:cc:" + string.Join(':', RandomNumberGenerator.GetBytes(4).Select(b => b.ToString("x2")));
        var netns = new TestNetns("cc-test-" + suffix, RandomNumberGenerator.GetInt32(1, 254), mac);
        try
        {
            await netns.IpAsync(cancellationToken, "netns", "add", netns.Name);
            await netns.IpAsync(cancellationToken, "netns", "add", netns.PeerName);
            await netns.IpAsync(cancellationToken, "-n", netns.PeerName, "link", "add", "peer0", "mtu", $"{PodMtu}",
                "type", "veth", "peer", "name", "eth0", "netns", netns.Name);
            await netns.IpAsync(cancellationToken, "-n", netns.PeerName, "addr", "add", netns.PeerAddress + "/24", "dev", "peer0");
            await netns.IpAsync(cancellationToken, "-n", netns.PeerName, "link", "set", "peer0", "up");
            await netns.IpAsync(cancellationToken, "-n", netns.Name, "link", "set", "eth0", "address", mac, "mtu", $"{PodMtu}");
            await netns.IpAsync(cancellationToken, "-n", netns.Name, "addr", "add", netns.PodAddress + "/24", "dev", "eth0");
            await netns.IpAsync(cancellationToken, "-n", netns.Name, "link", "set", "eth0", "up");
            await netns.IpAsync(cancellationToken, "-n", netns.Name, "link", "set", "lo", "up");
            await netns.IpAsync(cancellationToken, "-n", netns.Name, "route", "add", "default", "via", netns.PeerAddress);
            return netns;
        }
        catch
        {
            await netns.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs <c>ip -n &lt;pod netns&gt; ...</c> or <c>tc</c> there and returns stdout.</summary>
    public async Task<string> InPodAsync(CancellationToken cancellationToken, string program, params string[] args) =>
        (await RunAsync(cancellationToken, "/usr/bin/nsenter", ["--net=" + Path, "--", program, .. args])).Stdout;

    /// <summary>Runs a program in the peer namespace (the pod network's side), returning its result whatever the exit.</summary>
    public Task<ProcessResult> InPeerAsync(TimeSpan timeout, CancellationToken cancellationToken, string program, params string[] args) =>
        ProcessRunner.RunAsync("/usr/bin/nsenter", ["--net=/var/run/netns/" + PeerName, "--", program, .. args], timeout, cancellationToken);

    private Task IpAsync(CancellationToken cancellationToken, params string[] args) => RunAsync(cancellationToken, "/usr/sbin/ip", args);

    private static async Task<ProcessResult> RunAsync(CancellationToken cancellationToken, string file, string[] args)
    {
        var result = await ProcessRunner.RunAsync(file, args, CommandTimeout, cancellationToken);
        return result.ExitCode == 0 ? result : throw new InvalidOperationException(result.Describe());
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var name in (string[])[Name, PeerName])
        {
            if (File.Exists("/var/run/netns/" + name))
            {
                await ProcessRunner.RunAsync("/usr/sbin/ip", ["netns", "del", name], CommandTimeout, CancellationToken.None);
            }
        }
    }
}
