using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Cc.Shim.Configuration;
using Cc.Shim.Monitoring;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Shim.Operate;

/// <summary>
/// <c>containerd-shim-cc-v2 metrics [--config PATH] [--run-dir DIR]… [--listen ADDRESS]</c>: the node's metrics, as
/// kata-monitor gives them. Scrapes the management socket of every sandbox under the run directories (the
/// configuration's <c>runtime.run_dir</c> unless <c>--run-dir</c> names others) and prints the merged Prometheus text.
/// With <c>--listen</c> (<c>HOST:PORT</c> or <c>unix:PATH</c>) it serves that merge at <c>GET /metrics</c>, scraped
/// afresh per request, until SIGINT/SIGTERM. A socket that does not answer is named on stderr and skipped.
/// </summary>
public static class MetricsCommand
{
    public const int ExitOk = 0;
    public const int ExitUsage = 2;

    /// <summary>How long one sandbox may take to answer; a stuck shim costs a scrape this much, not more.</summary>
    public static readonly TimeSpan PerSandbox = TimeSpan.FromSeconds(5);

    private const string Usage = "usage: containerd-shim-cc-v2 metrics [--config PATH] [--run-dir DIR]... [--listen HOST:PORT|unix:PATH]";

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr,
        CancellationToken cancellationToken = default)
    {
        string? configPath = null, listen = null;
        var runDirectories = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--config" when i + 1 < args.Count:
                    configPath = args[++i];
                    break;
                case "--run-dir" when i + 1 < args.Count:
                    runDirectories.Add(args[++i]);
                    break;
                case "--listen" when i + 1 < args.Count:
                    listen = args[++i];
                    break;
                default:
                    stderr.WriteLine(Usage);
                    return ExitUsage;
            }
        }
        if (runDirectories.Count == 0)
        {
            try
            {
                runDirectories.Add(ConfigurationLoader.Load(configPath).Configuration.Runtime.RunDir);
            }
            catch (ConfigurationException e)
            {
                stderr.WriteLine($"containerd-shim-cc-v2 metrics: {e.Message}");
                return ExitUsage;
            }
        }

        if (listen is null)
        {
            stdout.Write(await ScrapeAsync(runDirectories, stderr, cancellationToken).ConfigureAwait(false));
            stdout.Flush();
            return ExitOk;
        }
        if (!TryParseListen(listen, out var endPoint))
        {
            stderr.WriteLine($"containerd-shim-cc-v2 metrics: --listen {listen}: expected HOST:PORT or unix:PATH");
            return ExitUsage;
        }
        return await ServeAsync(endPoint, runDirectories, stdout, stderr, cancellationToken).ConfigureAwait(false);
    }

    private static Task<string> ScrapeAsync(IReadOnlyList<string> runDirectories, TextWriter stderr, CancellationToken cancellationToken) =>
        MetricsScraper.ScrapeAllAsync(MetricsScraper.FindSockets(runDirectories), PerSandbox,
            (socket, why) => stderr.WriteLine($"skipped sandbox {socket.Namespace}/{socket.SandboxId} ({socket.Path}): {why}"),
            cancellationToken);

    private static async Task<int> ServeAsync(EndPoint endPoint, IReadOnlyList<string> runDirectories, TextWriter stdout,
        TextWriter stderr, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        var listener = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(endPoint);
            listener.Listen(16);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            stderr.WriteLine($"containerd-shim-cc-v2 metrics: cannot listen on {endPoint}: {e.Message}");
            return ExitUsage;
        }
        var server = new MetricsHttpServer(listener, async (to, token) =>
        {
            var text = await ScrapeAsync(runDirectories, stderr, token).ConfigureAwait(false);
            await to.WriteAsync(System.Text.Encoding.UTF8.GetBytes(text), token).ConfigureAwait(false);
        }, NullLogger.Instance);
        server.Start();
        stdout.WriteLine($"serving the metrics of every sandbox under {string.Join(", ", runDirectories)} at {listener.LocalEndPoint}{MetricsHttpServer.MetricsPath}");
        stdout.Flush();
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        await server.DisposeAsync().ConfigureAwait(false);
        if (endPoint is UnixDomainSocketEndPoint unix)
        {
            File.Delete(unix.ToString());
        }
        return ExitOk;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }

    internal static bool TryParseListen(string address, out EndPoint endPoint)
    {
        if (address.StartsWith("unix:", StringComparison.Ordinal) && address.Length > 5)
        {
            endPoint = new UnixDomainSocketEndPoint(address[5..]);
            return true;
        }
        if (IPEndPoint.TryParse(address, out var ip) && ip.Port > 0)
        {
            endPoint = ip;
            return true;
        }
        endPoint = null!;
        return false;
    }
}
