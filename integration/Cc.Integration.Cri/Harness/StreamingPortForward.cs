using System.Buffers.Binary;
using System.Text;

namespace Cc.Integration.Cri.Harness;

/// <summary>What one forwarded connection gave: the bytes of the data channel and the text of the error channel.</summary>
internal sealed record PortForwardResult(byte[] Data, string Error)
{
    public string Text => Encoding.UTF8.GetString(Data);
}

/// <summary>
/// The client side of the kubelet's port-forward streaming protocol over WebSocket, as containerd's streaming server
/// serves it (containerd's <c>pkg/cri/streaming/portforward/websocket.go</c>, 1.6 and 1.7): subprotocol
/// <c>v4.channel.k8s.io</c>, every binary message starts with its channel byte; each forwarded port has a data channel
/// (2i) and an error channel (2i + 1), and the server's first message on each carries the port as an unsigned 16-bit
/// little-endian integer. The client writes to the data channel; the error channel carries the text of a failed
/// forward. The server closes the connection when the forward has ended. One port per connection here.
/// </summary>
internal static class StreamingPortForward
{
    private const byte DataChannel = 0;
    private const byte ErrorChannel = 1;

    /// <summary>
    /// Connects to <paramref name="url"/> (CRI PortForward's answer) for <paramref name="port"/>, sends
    /// <paramref name="request"/> (if any) on the data channel and reads both channels until the server closes.
    /// </summary>
    public static async Task<PortForwardResult> RunAsync(string url, int port, string? request, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            var channels = await ChannelWebSocket.RunAsync(url, $"port={port}", DataChannel, request, hangUpEnds: true,
                onMessage: null, cts.Token);
            return new PortForwardResult(Payload(channels, DataChannel, port), Encoding.UTF8.GetString(Payload(channels, ErrorChannel, port)));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"port forward at {url} to {port} did not end within {timeout.TotalSeconds:F0} s");
        }
    }

    /// <summary>A channel's bytes after the port prefix, which must name <paramref name="port"/>.</summary>
    private static byte[] Payload(Dictionary<byte, MemoryStream> channels, byte channel, int port)
    {
        if (!channels.TryGetValue(channel, out var stream))
        {
            throw new InvalidDataException($"channel {channel} sent nothing, not even its port prefix");
        }
        var bytes = stream.ToArray();
        if (bytes.Length < 2 || BinaryPrimitives.ReadUInt16LittleEndian(bytes) != port)
        {
            throw new InvalidDataException($"channel {channel} did not start with port {port} (little-endian): {Convert.ToHexString(bytes.AsSpan(0, Math.Min(bytes.Length, 8)))}");
        }
        return bytes[2..];
    }
}
