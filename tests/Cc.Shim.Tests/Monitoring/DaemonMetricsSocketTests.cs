using System.Net.Sockets;
using Cc.Containerd.Protocol.Tasks;
using Cc.Shim.Monitoring;
using Cc.Shim.Tests.Fakes;
using Cc.TestKit;

namespace Cc.Shim.Tests.Monitoring;

/// <summary>The daemon's management socket: made in the sandbox's run directory, answering for the pod's containers, gone at exit.</summary>
public sealed class DaemonMetricsSocketTests
{
    [Fact]
    public async Task The_daemon_serves_its_sandbox_metrics_on_monitor_sock_in_the_run_directory_and_removes_it_at_exit()
    {
        var shim = await ShimHarness.StartAsync();
        var socket = Path.Combine(shim.Root, "run", "k8s.io", "sandbox1", MetricsScraper.SocketName);
        try
        {
            await shim.CreateAsync("c1");
            await shim.Tasks.StartAsync(new StartRequest { Id = "c1" }).WithTimeout();
            File.Exists(socket).ShouldBeTrue();

            var text = await MetricsScraper.GetAsync(new UnixDomainSocketEndPoint(socket), CancellationToken.None).WithTimeout();

            // FakeVm's Stats: 1000 µs of CPU, 4096 bytes, limit 1 GiB, 3 pids.
            text.ShouldContain("""cc_container_cpu_usage_seconds{container="c1",namespace="k8s.io",sandbox="sandbox1"} 0.001""");
            text.ShouldContain("""cc_container_memory_limit_bytes{container="c1",namespace="k8s.io",sandbox="sandbox1"} 1073741824""");
            text.ShouldContain("""cc_container_pids{container="c1",namespace="k8s.io",sandbox="sandbox1"} 3""");

            shim.Lifetime.RequestStop("test: the pod ends");
            await shim.Daemon.WithTimeout(TimeSpan.FromSeconds(20));
            Directory.Exists(shim.Root).ShouldBeTrue();
            File.Exists(socket).ShouldBeFalse();
        }
        finally
        {
            await shim.DisposeAsync();
        }
    }
}
