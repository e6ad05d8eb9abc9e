using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Cc.Integration.Containerd.Harness;
using Cc.Integration.Docker.Harness;

namespace Cc.Integration.Docker;

/// <summary>
/// Docker's networking under cc (docs/docker.md, "Networking"): the instance's private bridge is Docker's default
/// network; its prestart hook (libnetwork-setkey) runs on the host in the namespace the shim made, dockerd moves the
/// veth into it, and the shim mirrors it into the VM. Each effect is observed inside the guest (`uname -r`) and from the
/// host, with runc as the reference.
/// </summary>
[Collection(DockerCollection.Name)]
[Trait("Category", "Docker")]
public sealed class DockerNetworkTests(DockerFixture fixture) : DockerTestBase(fixture)
{
    private static readonly TimeSpan s_reachTimeout = TimeSpan.FromMinutes(2);

    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task The_container_has_dockers_ip_on_the_bridge_and_a_published_port_serves_its_page_to_the_host(string runtime)
    {
        var before = DockerLeftovers.Take();
        var vethsBefore = DockerNetworkLeftovers.Veths(Docker);
        var offset = Docker.ContainerdLogLength();
        var port = FreeHostPort();
        var body = $"served-by-{runtime}-{Guid.NewGuid():N}";
        var id = await DockerOkAsync("run", "-d", "--runtime", runtime, "-p", $"127.0.0.1:{port}:80", Image,
            "sh", "-c", $"mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www");
        string netnsId;
        try
        {
            var ip = await DockerOkAsync("inspect", "-f", "{{.NetworkSettings.IPAddress}}", id);
            ip.ShouldStartWith(Docker.Subnet[..Docker.Subnet.LastIndexOf('.')] + ".", Case.Sensitive, $"Docker's IP from the bridge {Docker.Bridge}");
            var mac = await DockerOkAsync("inspect", "-f", "{{.NetworkSettings.MacAddress}}", id);
            var sandboxKey = await DockerOkAsync("inspect", "-f", "{{.NetworkSettings.SandboxKey}}", id);
            netnsId = await DockerNetworkLeftovers.NetnsIdAsync(sandboxKey);

            // Inside: the kernel says where the container runs, and eth0 has Docker's address and MAC.
            var inside = await DockerOkAsync("exec", id, "sh", "-c", "uname -r; ip -o -4 addr show dev eth0; cat /sys/class/net/eth0/address; ip route");
            var lines = inside.Split('\n');
            lines[0].ShouldBe(KernelOf(runtime), inside);
            inside.ShouldContain($" {ip}/", Case.Sensitive, "eth0 holds the address docker inspect reports");
            lines.ShouldContain(mac, inside);
            inside.ShouldContain("default via ", Case.Sensitive, "the default route through the bridge's gateway");

            // From the host: the published port (docker-proxy) and the container's IP over the bridge.
            var published = await FetchAsync($"http://127.0.0.1:{port}/");
            published.ExitCode.ShouldBe(0, $"{published.Describe()}\n{Docker.LogsSince(offset)}");
            published.Stdout.Trim().ShouldBe(body);
            var direct = await FetchAsync($"http://{ip}:80/");
            direct.ExitCode.ShouldBe(0, direct.Describe());
            direct.Stdout.Trim().ShouldBe(body);

            if (runtime == "cc")
            {
                // The mirror (docs/networking.md): our tap and the redirect from the veth, in the container's netns.
                var links = await InNetnsAsync(sandboxKey, "ip", "-o", "link", "show");
                links.ShouldContain("tap0_cc", Case.Sensitive, links);
                var filters = await InNetnsAsync(sandboxKey, "tc", "filter", "show", "dev", "eth0", "ingress");
                filters.ShouldContain("tap0_cc", Case.Sensitive, filters);
            }
        }
        finally
        {
            await DockerOkAsync("rm", "-f", id);
        }

        (await DockerLeftovers.SettledAsync(Docker, id, before, TimeSpan.FromSeconds(30))).ShouldBeEmpty(Docker.LogsSince(offset));
        DockerNetworkLeftovers.Find(Docker, netnsId, vethsBefore).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task With_network_none_the_container_has_loopback_only(string runtime)
    {
        var links = await InContainerAsync(runtime, ["--network", "none"], "ip -o link show | cut -d: -f2");

        links.ShouldBe(["lo"]);
    }

    /// <summary>
    /// A VM cannot share the host's interfaces: under cc `--network host` gives the guest's own loopback (as any spec
    /// without a network namespace entry), where runc gives the host's interfaces. Not refused: the shim cannot tell
    /// Docker's host mode from a hand-written spec that names no namespaces (docs/docker.md).
    /// </summary>
    [Fact]
    public async Task With_network_host_cc_gives_the_guests_loopback_not_the_hosts_interfaces()
    {
        var runc = await InContainerAsync("runc", ["--network", "host"], "ip -o link show | cut -d: -f2");
        var cc = await InContainerAsync("cc", ["--network", "host"], "ip -o link show | cut -d: -f2");

        runc.ShouldContain(Docker.Bridge, "runc shares the host's interfaces");
        cc.ShouldBe(["lo"]);
    }

    /// <summary>
    /// A user-defined network: IP connectivity reaches the VM both ways (a runc server fetched by a cc client at its IP,
    /// and the reverse), while Docker's embedded DNS (127.0.0.11 in the container's netns on the host) does not: under
    /// cc 127.0.0.11 is the guest's own loopback, so names of other containers do not resolve (docs/docker.md).
    /// </summary>
    [Fact]
    public async Task On_a_user_defined_network_ips_connect_both_ways_and_container_names_resolve_under_runc_only()
    {
        var network = $"ccnet-{Guid.NewGuid():N}"[..16];
        await DockerOkAsync("network", "create", network);
        var server = $"srv-{Guid.NewGuid():N}"[..12];
        var peer = $"cc-{Guid.NewGuid():N}"[..12];
        try
        {
            await DockerOkAsync("run", "-d", "--name", server, "--network", network, Image,
                "sh", "-c", "mkdir -p /www && echo from-runc > /www/index.html && exec httpd -f -p 80 -h /www");
            await DockerOkAsync("run", "-d", "--name", peer, "--runtime", "cc", "--network", network, Image,
                "sh", "-c", "mkdir -p /www && echo from-cc > /www/index.html && exec httpd -f -p 80 -h /www");
            var serverIp = await DockerOkAsync("inspect", "-f", $"{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}", server);
            var peerIp = await DockerOkAsync("inspect", "-f", $"{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}", peer);

            var ccToRunc = await ExecUntilAsync(peer, $"uname -r; {Fetch(serverIp)}");
            ccToRunc.ShouldBe($"{GuestKernel}\nfrom-runc");
            var runcToCc = await ExecUntilAsync(server, $"uname -r; {Fetch(peerIp)}");
            runcToCc.ShouldBe($"{HostKernel}\nfrom-cc");

            var runcResolves = await Docker.DockerAsync(CommandTimeout, CancellationToken.None, "exec", server, "nslookup", peer);
            runcResolves.ExitCode.ShouldBe(0, runcResolves.Describe());
            runcResolves.Stdout.ShouldContain(peerIp, Case.Sensitive, runcResolves.Describe());
            var ccResolves = await Docker.DockerAsync(CommandTimeout, CancellationToken.None, "exec", peer, "nslookup", server);
            ccResolves.ExitCode.ShouldNotBe(0, $"Docker's embedded DNS is not expected to reach the guest: {ccResolves.Describe()}");
        }
        finally
        {
            await Docker.DockerAsync(RunTimeout, CancellationToken.None, "rm", "-f", server, peer);
            await DockerOkAsync("network", "rm", network);
        }
    }

    /// <summary>
    /// A page's body by HTTP/1.0 over busybox nc; not busybox wget, which crashes (SIGSEGV) in Debian 12's busybox-static
    /// on this host, under runc and cc alike. Fails (grep) when the answer is not 200.
    /// </summary>
    private static string Fetch(string ip) =>
        $"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {ip} 80 > /tmp/answer && grep -q '^HTTP/1.[01] 200' /tmp/answer && tail -n 1 /tmp/answer";

    /// <summary>`docker exec c sh -c script` until it succeeds (a server may not listen yet right after the start), bounded.</summary>
    private async Task<string> ExecUntilAsync(string container, string script)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var result = await Docker.DockerAsync(CommandTimeout, CancellationToken.None, "exec", container, "sh", "-c", script);
            if (result.ExitCode == 0 || clock.Elapsed > s_reachTimeout)
            {
                result.ExitCode.ShouldBe(0, result.Describe());
                return result.Stdout.Trim();
            }
            await Task.Delay(250);
        }
    }

    /// <summary>curl from the host until the server answers (httpd may not listen yet right after the start), bounded.</summary>
    private static async Task<ProcessResult> FetchAsync(string url)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var result = await ProcessRunner.RunAsync("/usr/bin/curl", ["-sS", "--max-time", "5", url], TimeSpan.FromSeconds(20), CancellationToken.None);
            if (result.ExitCode == 0 || clock.Elapsed > s_reachTimeout)
            {
                return result;
            }
            await Task.Delay(250);
        }
    }

    private static async Task<string> InNetnsAsync(string netns, params string[] command)
    {
        var result = await ProcessRunner.RunAsync("/usr/bin/nsenter", [$"--net={netns}", "--", .. command], CommandTimeout, CancellationToken.None);
        result.ExitCode.ShouldBe(0, result.Describe());
        return result.Stdout;
    }

    /// <summary>A port no one listens on now; docker-proxy binds it a moment later (another test taking it meanwhile fails loudly).</summary>
    private static int FreeHostPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
