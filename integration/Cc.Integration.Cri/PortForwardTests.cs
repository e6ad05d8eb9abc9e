using Cc.Integration.Cri.Harness;
using Runtime.V1;
using Xunit.Abstractions;

namespace Cc.Integration.Cri;

/// <summary>
/// CRI PortForward (<c>kubectl port-forward</c>), through containerd's streaming server over WebSocket: a page served by
/// busybox httpd bound to the pod's 127.0.0.1 only comes back through the forward, and its body (the server's
/// boot_id) says which kernel served it: the guest's for <c>cc</c>, the host's for runc. A port nothing listens on
/// gives an error on the error channel and the session ends: an error, not a hang. Same flow for runc (the reference)
/// and <c>cc</c>, on containerd 1.6 and 1.7; the leftover check covers the shim's NAT rule in the pod's namespace.
/// </summary>
[Collection(CriCollection.Name)]
[Trait("Category", "Cri")]
public sealed class PortForwardTests(CriFixture fixture, ITestOutputHelper output)
{
    private const int Port = 8080;
    private const int ClosedPort = 8081;
    private static readonly TimeSpan s_forwardTimeout = TimeSpan.FromSeconds(60);
    private static readonly DateTime s_never = DateTime.MaxValue;

    public static TheoryData<string, string> Runtimes => PodLifecycleTests.Runtimes;

    [Theory]
    [MemberData(nameof(Runtimes))]
    public async Task Port_forward_reaches_a_server_on_the_pods_localhost_and_a_closed_port_is_an_error(string version, string handler)
    {
        var ct = CancellationToken.None;
        var run = await CriRun.BeginAsync(fixture, version, output);
        var (containerd, qemuBefore) = (run.Containerd, run.QemuBefore);
        try
        {
            await using var pod = await CriPod.RunAsync(containerd, handler, $"pf-{handler}", ct);
            var server = await pod.CreateContainerAsync("server", 0,
                "mkdir -p /www && cat /proc/sys/kernel/random/boot_id > /www/index.html && " +
                $"exec httpd -f -p 127.0.0.1:{Port} -h /www", ct);
            await pod.StartContainerAsync(server, ct);
            var bootId = (await pod.ExecSyncAsync(server, ct, "cat", "/proc/sys/kernel/random/boot_id")).Stdout.ToStringUtf8().Trim();
            var hostBootId = File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
            await Wait.ForAsync("httpd answers on the pod's 127.0.0.1", TimeSpan.FromSeconds(30), async () =>
            {
                var fetched = await pod.ExecSyncAsync(server, ct, "wget", "-q", "-O", "-", $"http://127.0.0.1:{Port}/index.html");
                return fetched.ExitCode == 0 ? "" : null;
            }, ct);

            // kubectl port-forward pod 8080: PortForward gives the streaming URL, the client speaks HTTP through it.
            var url = await PortForwardUrlAsync(containerd, pod, Port);
            var page = await StreamingPortForward.RunAsync(url, Port, "GET /index.html HTTP/1.0\r\n\r\n", s_forwardTimeout, ct);
            output.WriteLine($"{handler} forward of {Port}: {page.Data.Length} bytes, error channel '{page.Error}'");
            page.Error.ShouldBeEmpty();
            page.Text.ShouldStartWith("HTTP/1.", customMessage: page.Text);
            page.Text.ShouldEndWith($"\r\n\r\n{bootId}\n", customMessage: page.Text);
            if (handler == "cc")
            {
                bootId.ShouldNotBe(hostBootId, "the page was served by the guest's kernel");
            }
            else
            {
                bootId.ShouldBe(hostBootId);
            }

            // A port nothing listens on: containerd's dial is refused (runc) or the shim resets it (cc); either way the
            // error channel says so and the session ends.
            var closedUrl = await PortForwardUrlAsync(containerd, pod, ClosedPort);
            var refused = await StreamingPortForward.RunAsync(closedUrl, ClosedPort, request: null, s_forwardTimeout, ct);
            output.WriteLine($"{handler} forward of {ClosedPort}: error channel '{refused.Error}'");
            refused.Error.ShouldContain($"error forwarding port {ClosedPort}");
            refused.Data.ShouldBeEmpty();

            // The forward works again after a refusal (nothing of the refused one is left in the way).
            var again = await StreamingPortForward.RunAsync(await PortForwardUrlAsync(containerd, pod, Port), Port,
                "GET /index.html HTTP/1.0\r\n\r\n", s_forwardTimeout, ct);
            again.Text.ShouldEndWith($"\r\n\r\n{bootId}\n", customMessage: again.Text);

            if (handler == "cc")
            {
                // The leftover check must see the live pod's NAT rule, or its silence after RemovePodSandbox proves nothing.
                var live = string.Join('\n', await PodLeftovers.FindAsync(containerd, pod.Id, [server], pod.NetworkNamespace, qemuBefore));
                live.ShouldContain($"NAT rule left in {pod.NetworkNamespace}: ", customMessage: live);
            }

            await pod.StopAsync(ct);
            await pod.RemoveAsync(ct);
            await PodLeftovers.ShouldBeGoneAsync(containerd, pod, [server], qemuBefore);
        }
        catch
        {
            run.WriteLogTail();
            throw;
        }
    }

    private static async Task<string> PortForwardUrlAsync(CriContainerd containerd, CriPod pod, int port) =>
        (await containerd.Runtime.PortForwardAsync(new PortForwardRequest { PodSandboxId = pod.Id, Port = { port } },
            deadline: DateTime.UtcNow.AddSeconds(30))).Url;
}
