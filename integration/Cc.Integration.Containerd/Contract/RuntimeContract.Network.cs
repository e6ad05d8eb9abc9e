using System.Diagnostics;
using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Containerd.Contract;

public abstract partial class RuntimeContract
{
    private static readonly TimeSpan s_reachTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A container joins a network namespace made as CNI would (veth eth0 with an address, MAC, MTU 1400 and a default
    /// route; its peer in a second namespace standing in for the pod network). With runc it is that namespace; with
    /// io.containerd.cc.v2 the guest's copy of it (tc-mirroring, docs/networking.md). Either way the container sees the
    /// veth's address, MAC, MTU and route, the pod network reaches its HTTP server at the pod IP, and once it is gone,
    /// the namespace holds only what CNI put there.
    /// </summary>
    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task A_container_in_a_pod_network_namespace_has_the_veths_address_and_mac_and_is_reached_at_the_pod_ip(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        await using var netns = await TestNetns.CreateAsync(s.CancellationToken);
        var id = s.NewId("net");

        await s.RunDetachedWithAsync(["--with-ns", "network:" + netns.Path], id, "sh", "-c",
            "mkdir -p /www && echo pod-says-hi > /www/index.html && exec httpd -f -p 8080 -h /www");

        var view = await s.CtrAsync("task", "exec", "--exec-id", "ip", id, "sh", "-c",
            "ip -o addr show dev eth0; ip -o link show dev eth0; ip route");
        s.ShouldSucceed(view);
        view.Stdout.ShouldContain($"inet {netns.PodAddress}/24", Case.Sensitive, s.Because(view));
        view.Stdout.ShouldContain($"link/ether {netns.PodMac}", Case.Sensitive, s.Because(view));
        view.Stdout.ShouldContain($"mtu {TestNetns.PodMtu}", Case.Sensitive, s.Because(view));
        view.Stdout.ShouldContain($"default via {netns.PeerAddress} dev eth0", Case.Sensitive, s.Because(view));

        var page = await FetchFromPeerAsync(netns, $"http://{netns.PodAddress}:8080/", s.CancellationToken);
        page.Stdout.ShouldBe("pod-says-hi\n", s.Because(page));

        await s.CtrAsync("task", "kill", "-s", "SIGKILL", id);
        await s.CtrAsync("task", "rm", "-f", id);
        await s.CtrAsync("container", "rm", id);
        await s.ShouldLeaveNothingAsync(id);
        var links = await netns.InPodAsync(s.CancellationToken, "/usr/sbin/ip", "-o", "link", "show");
        links.ShouldNotContain("tap", Case.Sensitive, "no tap of ours is left in the pod's namespace");
        links.ShouldContain("eth0", Case.Sensitive, "CNI's veth stays until CNI DEL");
        (await netns.InPodAsync(s.CancellationToken, "/usr/sbin/tc", "qdisc", "show", "dev", "eth0"))
            .ShouldNotContain("ingress", Case.Sensitive, "no redirect of ours is left on the veth");
    }

    /// <summary>
    /// The shim daemon is SIGKILLed while the container runs in the pod's namespace; containerd then runs the shim's
    /// <c>delete</c>, which must leave the namespace as CNI made it (for our runtime: the VM killed, the veth's
    /// redirects removed from what network.json recorded, the tap gone with QEMU).
    /// </summary>
    [Theory]
    [InlineData("1.7")]
    public async Task After_the_shim_daemon_is_killed_delete_leaves_the_pod_namespace_as_cni_made_it(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        await using var netns = await TestNetns.CreateAsync(s.CancellationToken);
        var id = s.NewId("netcrash");
        await s.RunDetachedWithAsync(["--with-ns", "network:" + netns.Path], id, "sleep", "1000");
        var shim = ShimDaemonPid(id);
        shim.ShouldNotBeNull($"no shim daemon with -id {id} found");

        Process.GetProcessById(shim.Value).Kill();
        await s.CtrAsync("task", "rm", "-f", id);
        await s.CtrAsync("container", "rm", id);

        // Not ShouldLeaveNothingAsync: a SIGKILLed daemon leaves ctr's FIFOs with either runtime, and the runc shim's
        // `delete` also leaves the dead daemon's socket (ours removes it: the wait below counts it for cc); what this test judges is the
        // pod's namespace, the VM, mounts, run directory and, for cc, the socket.
        var isCc = Runtime.Name == RuntimeUnderTest.Cc.Name;
        var socket = Leftovers.ShimSocketPath(s.Containerd.Address, PrivateContainerd.Namespace, id);
        List<string> left;
        var clock = Stopwatch.StartNew();
        while ((left = [.. Leftovers.Find(s.Containerd, id, s.QemuBefore).Where(l =>
                   !(l.StartsWith("shim socket left", StringComparison.Ordinal) && !isCc) && !l.StartsWith("FIFO left", StringComparison.Ordinal))]).Count > 0
               && clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            await Task.Delay(250, s.CancellationToken);
        }
        left.ShouldBeEmpty();
        if (!isCc)
        {
            // runc's known leftover, removed so that the suite's leak check (hack/check-leftovers.sh) judges only ours.
            File.Delete(socket);
        }
        (await netns.InPodAsync(s.CancellationToken, "/usr/sbin/ip", "-o", "link", "show"))
            .ShouldNotContain("tap", Case.Sensitive, "no tap of ours is left in the pod's namespace");
        (await netns.InPodAsync(s.CancellationToken, "/usr/sbin/tc", "qdisc", "show", "dev", "eth0"))
            .ShouldNotContain("ingress", Case.Sensitive, "no redirect of ours is left on the veth");
    }

    /// <summary>The pid of the shim daemon serving task <paramref name="id"/> (a containerd-shim-* with <c>-id id</c>).</summary>
    private static int? ShimDaemonPid(string id)
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }
            try
            {
                var argv = File.ReadAllText(Path.Combine(directory, "cmdline")).Split('\0');
                var at = Array.IndexOf(argv, "-id");
                if (argv[0].Contains("containerd-shim", StringComparison.Ordinal) && at >= 0 && at + 1 < argv.Length
                    && argv[at + 1] == id && !argv.Contains("delete"))
                {
                    return pid;
                }
            }
            catch (IOException)
            {
                // The process ended while we looked.
            }
        }
        return null;
    }

    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task A_container_without_a_network_namespace_path_has_loopback_only(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var id = s.NewId("lo");

        var result = await s.RunAsync(id, "sh", "-c", Short("ip -o link show | cut -d: -f2"));

        s.ShouldSucceed(result);
        result.Stdout.Trim().ShouldBe("lo", s.Because(result));
        if (Runtime.Name == RuntimeUnderTest.Cc.Name)
        {
            s.LogSinceStart().ShouldContain("loopback only", Case.Sensitive, "the shim says why the guest has no network");
        }
        await s.ShouldLeaveNothingAsync(id);
    }

    /// <summary>curl from the peer namespace (the pod network's side) until the server answers, bounded. curl, not the
    /// host's busybox wget: Debian 12's busybox-static wget crashes (SIGSEGV) on this host.</summary>
    private static async Task<ProcessResult> FetchFromPeerAsync(TestNetns netns, string url, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var result = await netns.InPeerAsync(TimeSpan.FromSeconds(10), cancellationToken, "/usr/bin/curl", "-sS", "--max-time", "3", url);
            // httpd may not listen yet right after the task started: retried until the bound.
            if (result.ExitCode == 0 || clock.Elapsed > s_reachTimeout)
            {
                return result;
            }
            await Task.Delay(250, cancellationToken);
        }
    }
}
