using System.Globalization;
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
        try
        {
            var channels = await ChannelWebSocket.RunAsync(url, query: null, sendChannel: 0, stdin, hangUpEnds: false,
                (channel, all) =>
                {
                    if (channel == 1)
                    {
                        stdoutSoFar?.Invoke(Text(all, 1));
                    }
                }, cts.Token);
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
