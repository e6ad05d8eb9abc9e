using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Cc.Integration.Cri.Harness;

/// <summary>What one streaming exec gave: its two output streams and the status document of channel 3.</summary>
internal sealed record StreamingExecResult(string Stdout, string Stderr, string Status)
{
    /// <summary>The exit code in channel 3's metav1.Status: 0 for Success, the NonZeroExitCode cause otherwise.</summary>
    public int ExitCode
    {
        get
        {
            using var doc = JsonDocument.Parse(Status);
            var root = doc.RootElement;
            if (root.GetProperty("status").GetString() == "Success")
            {
                return 0;
            }
            if (root.GetProperty("reason").GetString() != "NonZeroExitCode")
            {
                throw new InvalidOperationException($"the exec failed without an exit code: {Status}");
            }
            var cause = root.GetProperty("details").GetProperty("causes").EnumerateArray()
                .Single(c => c.GetProperty("reason").GetString() == "ExitCode");
            return int.Parse(cause.GetProperty("message").GetString()!, CultureInfo.InvariantCulture);
        }
    }
}

/// <summary>
/// The client side of the kubelet's streaming protocol, over WebSocket with subprotocol <c>v4.channel.k8s.io</c>
/// (what containerd's streaming server accepts besides SPDY): every binary message starts with its channel byte,
/// 1 = stdout, 2 = stderr, 3 = the final status (a metav1.Status JSON: <c>Success</c>, or <c>Failure</c> with reason
/// <c>NonZeroExitCode</c> and the code as a cause). The server closes the connection once the process has exited and
/// its output is written; a client with no stdin sends nothing.
/// </summary>
internal static class StreamingExec
{
    public const string Protocol = "v4.channel.k8s.io";

    /// <summary>
    /// Runs the exec behind <paramref name="url"/> to its end; <paramref name="stdoutSoFar"/> sees the stdout received
    /// so far after each message (to learn that the process runs); <paramref name="stdin"/>, if given, is sent on channel
    /// 0 once connected (v4 has no end-of-stdin signal: the process must end by itself, e.g. <c>head -n 1</c>).
    /// </summary>
    public static async Task<StreamingExecResult> RunAsync(string url, TimeSpan timeout, CancellationToken cancellationToken,
        Action<string>? stdoutSoFar = null, string? stdin = null)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol(Protocol);
        var uri = new UriBuilder(url);
        uri.Scheme = uri.Scheme == "https" ? "wss" : "ws";
        try
        {
            await socket.ConnectAsync(uri.Uri, cts.Token);
            if (stdin is not null)
            {
                var frame = new byte[1 + Encoding.UTF8.GetByteCount(stdin)];
                Encoding.UTF8.GetBytes(stdin, frame.AsSpan(1));
                await socket.SendAsync(frame, WebSocketMessageType.Binary, endOfMessage: true, cts.Token);
            }
            var channels = new Dictionary<byte, MemoryStream>();
            var buffer = new byte[16 * 1024];
            var message = new MemoryStream();
            while (true)
            {
                var received = await socket.ReceiveAsync(buffer, cts.Token);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
                message.Write(buffer, 0, received.Count);
                if (!received.EndOfMessage)
                {
                    continue;
                }
                var bytes = message.ToArray();
                message.SetLength(0);
                if (bytes.Length == 0)
                {
                    continue;
                }
                if (!channels.TryGetValue(bytes[0], out var channel))
                {
                    channels[bytes[0]] = channel = new MemoryStream();
                }
                channel.Write(bytes, 1, bytes.Length - 1);
                if (bytes[0] == 1)
                {
                    stdoutSoFar?.Invoke(Text(channels, 1));
                }
            }
            return new StreamingExecResult(Text(channels, 1), Text(channels, 2), Text(channels, 3));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"streaming exec at {url} did not end within {timeout.TotalSeconds:F0} s");
        }
    }

    private static string Text(Dictionary<byte, MemoryStream> channels, byte channel) =>
        channels.TryGetValue(channel, out var stream) ? Encoding.UTF8.GetString(stream.ToArray()) : "";
}
