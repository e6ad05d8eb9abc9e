using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Monitoring;

/// <summary>
/// <c>GET /metrics</c> over HTTP/1.1 on a listening socket (the shim's unix management socket, or the TCP address of
/// <c>containerd-shim-cc-v2 metrics --listen</c>), so <c>curl --unix-socket</c>, kata-monitor-style scrapers and
/// Prometheus read it. One request per connection (the answer says <c>Connection: close</c>); connections are served in
/// turn, each bounded by <see cref="RequestBound"/>, so one stuck client or a slow guest delays the next scrape by at
/// most that and never piles work up in the shim.
/// </summary>
public sealed partial class MetricsHttpServer : IAsyncDisposable
{
    public const string MetricsPath = "/metrics";

    /// <summary>Prometheus's text exposition format, version 0.0.4.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>Reading the request, producing the exposition and writing it, together.</summary>
    public static readonly TimeSpan RequestBound = TimeSpan.FromSeconds(10);

    /// <summary>A request's line and headers must fit; a scraper's are a few hundred bytes.</summary>
    private const int MaxHeaderBytes = 8192;

    private readonly Socket _listener;
    private readonly Func<Stream, CancellationToken, Task> _export;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Task _serving = Task.CompletedTask;

    /// <param name="listener">Bound and listening; owned from here on.</param>
    /// <param name="export">Writes the exposition; an exception becomes a 500 with its message.</param>
    public MetricsHttpServer(Socket listener, Func<Stream, CancellationToken, Task> export, ILogger logger)
    {
        _listener = listener;
        _export = export;
        _logger = logger;
    }

    public void Start() => _serving = ServeAsync(_stop.Token);

    /// <summary>Completes when the accept loop has ended (after <see cref="DisposeAsync"/>).</summary>
    public Task Serving => _serving;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        try
        {
            await _serving.WaitAsync(RequestBound).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A request still running past its own bound; its token has fired, it ends on its own.
        }
        _stop.Dispose();
    }

    private async Task ServeAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await _listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            using (connection)
            {
                using var bound = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                bound.CancelAfter(RequestBound);
                try
                {
                    await AnswerAsync(connection, bound.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
                {
                    Log.RequestFailed(_logger, e.Message);
                }
            }
        }
    }

    private async Task AnswerAsync(Socket connection, CancellationToken cancellationToken)
    {
        await using var stream = new NetworkStream(connection, ownsSocket: false);
        var head = await ReadHeadAsync(stream, cancellationToken).ConfigureAwait(false);
        var requestLine = head?.Split("\r\n", 2)[0].Split(' ');
        if (requestLine is not [var method, var target, ['H', 'T', 'T', 'P', '/', ..]])
        {
            await RespondAsync(stream, "400 Bad Request", "malformed HTTP request\n", false, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (method is not ("GET" or "HEAD"))
        {
            await RespondAsync(stream, "405 Method Not Allowed", $"{method}: only GET {MetricsPath} is served\n", false, cancellationToken)
                .ConfigureAwait(false);
            return;
        }
        if (target.Split('?', 2)[0] != MetricsPath)
        {
            await RespondAsync(stream, "404 Not Found", $"{target}: only {MetricsPath} is served\n", method == "HEAD", cancellationToken)
                .ConfigureAwait(false);
            return;
        }
        string body;
        string status = "200 OK";
        try
        {
            using var buffer = new MemoryStream();
            await _export(buffer, cancellationToken).ConfigureAwait(false);
            body = Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.ExportFailed(_logger, e);
            status = "500 Internal Server Error";
            body = $"metrics unavailable: {e.Message}\n";
        }
        await RespondAsync(stream, status, body, method == "HEAD", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The request line and headers (up to the empty line); null when the peer closed before sending them whole.</summary>
    private static async Task<string?> ReadHeadAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxHeaderBytes];
        var length = 0;
        while (length < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return null;
            }
            length += read;
            var end = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                return Encoding.ASCII.GetString(buffer, 0, end);
            }
        }
        return null;
    }

    private static async Task RespondAsync(Stream stream, string status, string body, bool headOnly, CancellationToken cancellationToken)
    {
        var payload = Encoding.UTF8.GetBytes(body);
        var contentType = status.StartsWith("200", StringComparison.Ordinal) ? ContentType : "text/plain; charset=utf-8";
        var head = Encoding.ASCII.GetBytes(
            $"HTTP/1.1 {status}\r\nContent-Type: {contentType}\r\nContent-Length: {payload.Length}\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(head, cancellationToken).ConfigureAwait(false);
        if (!headOnly)
        {
            await stream.WriteAsync(payload, cancellationToken).ConfigureAwait(false);
        }
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 400, Level = LogLevel.Debug, Message = "Metrics request not answered: {Reason}")]
        public static partial void RequestFailed(ILogger logger, string reason);

        [LoggerMessage(EventId = 401, Level = LogLevel.Warning, Message = "Metrics exposition failed")]
        public static partial void ExportFailed(ILogger logger, Exception e);
    }
}
