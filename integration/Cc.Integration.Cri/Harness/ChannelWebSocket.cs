using System.Net.WebSockets;
using System.Text;

namespace Cc.Integration.Cri.Harness;

/// <summary>
/// One session of the kubelet streaming protocol's WebSocket form, subprotocol <c>v4.channel.k8s.io</c>, as containerd's
/// streaming server serves exec and port forwarding: every binary message starts with its channel byte. Shared by
/// <see cref="StreamingExec"/> and <see cref="StreamingPortForward"/>, which give the channels their meaning.
/// </summary>
internal static class ChannelWebSocket
{
    public const string Protocol = "v4.channel.k8s.io";

    /// <summary>
    /// Connects to <paramref name="url"/> (with <paramref name="query"/>, if any), sends <paramref name="text"/> (if any)
    /// on channel <paramref name="sendChannel"/>, then collects every channel's bytes until the server closes.
    /// <paramref name="onMessage"/> sees each message's channel with what that channel holds so far. A server that hangs
    /// up without a close frame ends the session only when <paramref name="hangUpEnds"/>; otherwise it is an error.
    /// </summary>
    public static async Task<Dictionary<byte, MemoryStream>> RunAsync(string url, string? query, byte sendChannel, string? text,
        bool hangUpEnds, Action<byte, Dictionary<byte, MemoryStream>>? onMessage, CancellationToken cancellationToken)
    {
        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol(Protocol);
        var uri = new UriBuilder(url);
        if (query is not null)
        {
            uri.Query = query;
        }
        uri.Scheme = uri.Scheme == "https" ? "wss" : "ws";
        await socket.ConnectAsync(uri.Uri, cancellationToken);
        if (text is not null)
        {
            var frame = new byte[1 + Encoding.UTF8.GetByteCount(text)];
            frame[0] = sendChannel;
            Encoding.UTF8.GetBytes(text, frame.AsSpan(1));
            await socket.SendAsync(frame, WebSocketMessageType.Binary, endOfMessage: true, cancellationToken);
        }
        var channels = new Dictionary<byte, MemoryStream>();
        var buffer = new byte[16 * 1024];
        var message = new MemoryStream();
        while (true)
        {
            WebSocketReceiveResult received;
            try
            {
                received = await socket.ReceiveAsync(buffer, cancellationToken);
            }
            catch (WebSocketException) when (hangUpEnds && socket.State != WebSocketState.Open)
            {
                break; // the server hung up without a close frame
            }
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
            onMessage?.Invoke(bytes[0], channels);
        }
        return channels;
    }
}
