using Cc.Integration.Cri.Harness;
using Runtime.V1;
using Xunit.Abstractions;

namespace Cc.Integration.Cri;

/// <summary>
/// The pod as a host on the pod network, observed from inside the containers and from the host: the pod's hostname and
/// DNS, localhost shared by the containers of one pod and by no other pod, the pod IP that PodSandboxStatus reports
/// reached from the host and from another pod. Same flow for runc (the reference) and <c>cc</c>, on containerd 1.6 and 1.7;
/// and, for <c>cc</c> only (a runc pod has no guest), the pod's DNS as the guest's own resolv.conf.
/// </summary>
[Collection(CriCollection.Name)]
[Trait("Category", "Cri")]
public sealed class PodNetworkTests(CriFixture fixture, ITestOutputHelper output)
{
    private const int Port = 8080;
    private static readonly TimeSpan s_serveTimeout = TimeSpan.FromSeconds(30);

    // kubelet's DnsConfig for a ClusterFirst pod: the cluster DNS service, the namespace's search path, ndots.
    private static readonly DNSConfig s_dns = new()
    {
        Servers = { "10.96.0.10", "10.96.0.11" },
        Searches = { "cc-cri.svc.cluster.local", "svc.cluster.local" },
        Options = { "ndots:5" },
    };

    public static TheoryData<string, string> Runtimes => PodLifecycleTests.Runtimes;

    [Theory]
    [MemberData(nameof(Runtimes))]
    public async Task Two_pods_at_once_each_have_their_own_localhost_hostname_and_dns_and_reach_each_other_at_their_pod_ip(
        string version, string handler)
    {
        var ct = CancellationToken.None;
        var run = await CriRun.BeginAsync(fixture, version, output);
        var (containerd, qemuBefore) = (run.Containerd, run.QemuBefore);
        try
        {
            // Both pods start together: for cc, two VMs boot side by side.
            var starting = new[] { "net-a", "net-b" }.Select(name => CriPod.RunAsync(containerd, handler, $"{name}-{handler}", ct, s_dns)).ToArray();
            await Task.WhenAll(starting);
            await using var a = await starting[0];
            await using var b = await starting[1];

            // In each pod: a server that answers with its pod's name, and a client container beside it.
            var pods = new List<(CriPod Pod, string Server, string Client, string Ip)>();
            foreach (var pod in new[] { a, b })
            {
                var server = await pod.CreateContainerAsync("server", 0,
                    $"mkdir -p /www && echo {pod.Config.Metadata.Name} > /www/index.html && exec httpd -f -p {Port} -h /www", ct);
                var client = await pod.CreateContainerAsync("client", 0, "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done", ct);
                await pod.StartContainerAsync(server, ct);
                await pod.StartContainerAsync(client, ct);
                var ip = await pod.IpAsync(ct);
                output.WriteLine($"pod {pod.Config.Metadata.Name}: {pod.Id}, IP {ip}");
                ip.ShouldNotBeNullOrEmpty($"PodSandboxStatus of {pod.Config.Metadata.Name} reports an IP");
                pods.Add((pod, server, client, ip));
            }
            pods[0].Ip.ShouldNotBe(pods[1].Ip);

            foreach (var (pod, server, client, ip) in pods)
            {
                var name = pod.Config.Metadata.Name;

                // The pod's hostname and DNS, in every container of the pod.
                foreach (var id in new[] { server, client })
                {
                    (await ExecAsync(pod, id, "hostname")).ShouldBe($"{name}\n", $"hostname in {name}");
                    var resolv = await ExecAsync(pod, id, "cat", "/etc/resolv.conf");
                    resolv.ShouldContain("nameserver 10.96.0.10\n", customMessage: $"resolv.conf in {name}:\n{resolv}");
                    resolv.ShouldContain("nameserver 10.96.0.11\n", customMessage: resolv);
                    resolv.ShouldContain("search cc-cri.svc.cluster.local svc.cluster.local\n", customMessage: resolv);
                    resolv.ShouldContain("options ndots:5\n", customMessage: resolv);
                }

                // localhost is the pod's: the client reaches its own pod's server on 127.0.0.1, never the other pod's.
                (await FetchInPodAsync(pod, client, $"http://127.0.0.1:{Port}/index.html", ct)).ShouldBe($"{name}\n",
                    $"{name}'s client on 127.0.0.1");

                // The host reaches the server at the IP PodSandboxStatus reports (kubelet's podIP; a Service's endpoint).
                (await FetchFromHostAsync($"http://{ip}:{Port}/index.html", ct)).ShouldBe($"{name}\n", $"the host at {ip}");
            }

            // The pods reach each other over the pod network.
            (await FetchInPodAsync(a, pods[0].Client, $"http://{pods[1].Ip}:{Port}/index.html", ct)).ShouldBe($"{b.Config.Metadata.Name}\n");
            (await FetchInPodAsync(b, pods[1].Client, $"http://{pods[0].Ip}:{Port}/index.html", ct)).ShouldBe($"{a.Config.Metadata.Name}\n");

            // Two pods are two kernels for cc (two VMs), one (the host's) for runc.
            var bootA = await ExecAsync(a, pods[0].Client, "cat", "/proc/sys/kernel/random/boot_id");
            var bootB = await ExecAsync(b, pods[1].Client, "cat", "/proc/sys/kernel/random/boot_id");
            if (handler == "runc")
            {
                bootB.ShouldBe(bootA);
            }
            else
            {
                bootB.ShouldNotBe(bootA);
            }

            foreach (var (pod, server, client, _) in pods)
            {
                await pod.StopAsync(ct);
                await pod.RemoveAsync(ct);
            }
            foreach (var (pod, server, client, _) in pods)
            {
                await PodLeftovers.ShouldBeGoneAsync(containerd, pod, [server, client], qemuBefore);
            }
        }
        catch
        {
            run.WriteLogTail();
            throw;
        }
    }

    /// <summary>
    /// The pod's DNS is the guest's own, not only the containers'. containerd 1.6/1.7 bind the pod's resolv.conf into
    /// every container, the pause container included ("for katacontainers"), so the containers of the test above see
    /// the pod's DNS whatever the guest has; the shim reads the pause container's bind source and the agent writes it
    /// as the guest's /etc/resolv.conf. A hostPID container reads the guest's file as /proc/1/root/etc/resolv.conf:
    /// PID 1 of its PID namespace is the agent (reading another process's root needs SYS_PTRACE). cc only: a runc pod
    /// has no guest: its node's PID 1 is the host's init, whose root is the host's (on this test machine not even root
    /// outside any container may read it: "Permission denied").
    /// </summary>
    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task The_guest_of_a_cc_pod_has_the_pods_dns_as_its_own_resolv_conf(string version)
    {
        var ct = CancellationToken.None;
        var run = await CriRun.BeginAsync(fixture, version, output);
        var (containerd, qemuBefore) = (run.Containerd, run.QemuBefore);
        try
        {
            await using var pod = await CriPod.RunAsync(containerd, "cc", "dns-cc", ct, s_dns, hostPid: true);
            var id = await pod.CreateContainerAsync("reader", 0, "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done", ct,
                addCapabilities: ["SYS_PTRACE"]);
            await pod.StartContainerAsync(id, ct);

            (await ExecAsync(pod, id, "cat", "/proc/1/comm")).ShouldBe("init\n", "PID 1 is the agent, the initramfs's /init");
            var guest = await ExecAsync(pod, id, "cat", "/proc/1/root/etc/resolv.conf");
            guest.ShouldBe("nameserver 10.96.0.10\nnameserver 10.96.0.11\nsearch cc-cri.svc.cluster.local svc.cluster.local\noptions ndots:5\n");

            // The leftover check must see a live pod's traces, or its silence after RemovePodSandbox proves nothing.
            var live = string.Join('\n', await PodLeftovers.FindAsync(containerd, pod.Id, [id], pod.NetworkNamespace, qemuBefore));
            output.WriteLine($"while the pod runs:\n{live}");
            foreach (var trace in new[] { "QEMU process ", "network record left: ", "socket left: ",
                         $"tap of ours left in {pod.NetworkNamespace}: ", $"tc filter left in {pod.NetworkNamespace}: " })
            {
                live.ShouldContain(trace, customMessage: live);
            }
            PodLeftovers.RunDirectories().ShouldContain(r => live.Contains($"directory left: {r}/k8s.io/{pod.Id} [", StringComparison.Ordinal), live);

            await pod.StopAsync(ct);
            await pod.RemoveAsync(ct);
            await PodLeftovers.ShouldBeGoneAsync(containerd, pod, [id], qemuBefore);
        }
        catch
        {
            run.WriteLogTail();
            throw;
        }
    }

    private static async Task<string> ExecAsync(CriPod pod, string id, params string[] cmd)
    {
        var result = await pod.ExecSyncAsync(id, CancellationToken.None, cmd);
        result.ExitCode.ShouldBe(0, $"{string.Join(' ', cmd)}: {result.Stderr.ToStringUtf8()}");
        return result.Stdout.ToStringUtf8();
    }

    /// <summary>
    /// An HTTP GET from inside the container until the server answers (httpd may not listen yet), bounded; the body.
    /// busybox nc, not wget: Debian 12's busybox-static wget dies with SIGSEGV once it is connected (on the host too).
    /// </summary>
    internal static Task<string> FetchInPodAsync(CriPod pod, string id, string url, CancellationToken ct)
    {
        var uri = new Uri(url);
        var get = $"printf 'GET {uri.PathAndQuery} HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {uri.Host} {uri.Port}";
        return Wait.ForAsync($"{url} from {pod.Config.Metadata.Name}", s_serveTimeout, async () =>
        {
            var result = await pod.ExecSyncAsync(id, ct, "sh", "-c", get);
            var response = result.Stdout.ToStringUtf8();
            var body = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            return result.ExitCode == 0 && response.StartsWith("HTTP/1.1 200 ", StringComparison.Ordinal) && body >= 0
                ? response[(body + 4)..]
                : null;
        }, ct);
    }

    internal static Task<string> FetchFromHostAsync(string url, CancellationToken ct) =>
        Wait.ForAsync($"{url} from the host", s_serveTimeout, async () =>
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
            try
            {
                return await http.GetStringAsync(url, ct);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return null;
            }
        }, ct);
}
