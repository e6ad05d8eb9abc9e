using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Cc.Shim.Monitoring;

/// <summary>A shim's management socket found under a run directory, with the sandbox it belongs to.</summary>
public sealed record MonitorSocket(string Path, string Namespace, string SandboxId);

/// <summary>
/// The node-wide side of the metrics (what kata-monitor does): finds every sandbox's management socket under the run
/// directories (<c>&lt;run_dir&gt;/&lt;namespace&gt;/&lt;sandbox&gt;/monitor.sock</c>), reads each one's
/// <c>GET /metrics</c> and merges the answers.
/// </summary>
public static class MetricsScraper
{
    /// <summary>The management socket's name in a sandbox's run directory.</summary>
    public const string SocketName = "monitor.sock";

    public static IReadOnlyList<MonitorSocket> FindSockets(IEnumerable<string> runDirectories)
    {
        var found = new List<MonitorSocket>();
        foreach (var runDirectory in runDirectories.Distinct(StringComparer.Ordinal))
        {
            if (!Directory.Exists(runDirectory))
            {
                continue;
            }
            foreach (var namespaceDirectory in Directory.EnumerateDirectories(runDirectory).Order(StringComparer.Ordinal))
            {
                foreach (var sandboxDirectory in Directory.EnumerateDirectories(namespaceDirectory).Order(StringComparer.Ordinal))
                {
                    var socket = Path.Combine(sandboxDirectory, SocketName);
                    if (File.Exists(socket))
                    {
                        found.Add(new MonitorSocket(socket, Path.GetFileName(namespaceDirectory), Path.GetFileName(sandboxDirectory)));
                    }
                }
            }
        }
        return found;
    }

    /// <summary>The body of <c>GET /metrics</c> at <paramref name="endPoint"/>; throws when it does not answer 200.</summary>
    public static async Task<string> GetAsync(EndPoint endPoint, CancellationToken cancellationToken)
    {
        using var socket = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"GET {MetricsHttpServer.MetricsPath} HTTP/1.1\r\nHost: localhost\r\nAccept: text/plain\r\nConnection: close\r\n\r\n"),
            cancellationToken).ConfigureAwait(false);
        using var answer = new MemoryStream();
        // The server closes after its one answer (Connection: close), so the answer is everything up to the end.
        await stream.CopyToAsync(answer, cancellationToken).ConfigureAwait(false);
        var text = Encoding.UTF8.GetString(answer.GetBuffer(), 0, (int)answer.Length);
        var headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (headEnd < 0)
        {
            throw new IOException("no HTTP answer");
        }
        var statusLine = text[..text.IndexOf("\r\n", StringComparison.Ordinal)];
        var body = text[(headEnd + 4)..];
        if (statusLine.Split(' ') is not [_, "200", ..])
        {
            throw new IOException($"{statusLine}: {body.Trim()}");
        }
        return body;
    }

    /// <summary>
    /// Scrapes every socket, each bounded by <paramref name="perSandbox"/>; a socket that does not answer (its shim died,
    /// or it is gone by now) is reported through <paramref name="skipped"/> and left out, never a failure.
    /// </summary>
    public static async Task<string> ScrapeAllAsync(IReadOnlyList<MonitorSocket> sockets, TimeSpan perSandbox,
        Action<MonitorSocket, string> skipped, CancellationToken cancellationToken)
    {
        var answers = await Task.WhenAll(sockets.Select(async socket =>
        {
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bound.CancelAfter(perSandbox);
            try
            {
                return await GetAsync(new UnixDomainSocketEndPoint(socket.Path), bound.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException
                                          || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                skipped(socket, e is OperationCanceledException ? $"no answer within {perSandbox.TotalSeconds:0} s" : e.Message);
                return null;
            }
        })).ConfigureAwait(false);
        return ExpositionMerge.Merge(answers.OfType<string>());
    }
}
