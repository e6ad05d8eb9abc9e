using Cc.TestKit;
using Cc.Ttrpc.Framing;

namespace Cc.Ttrpc.Tests;

/// <summary>The far end of a connection driven byte by byte: writes hand-made frames, reads whole frames back.</summary>
internal sealed class RawPeer(Stream stream) : IAsyncDisposable
{
    private readonly byte[] _buffer = new byte[8 << 20];
    private int _filled;

    public Stream Stream => stream;

    public static byte[] Frame(uint streamId, MessageType type, FrameFlags flags, ReadOnlySpan<byte> body, uint? length = null)
    {
        var frame = new byte[FrameLimits.HeaderLength + body.Length];
        FrameEncoder.WriteHeader(frame, new FrameHeader(length ?? (uint)body.Length, streamId, type, flags));
        body.CopyTo(frame.AsSpan(FrameLimits.HeaderLength));
        return frame;
    }

    public async Task SendAsync(byte[] bytes)
    {
        using var cts = new CancellationTokenSource(Bounded.Default);
        await stream.WriteAsync(bytes, cts.Token);
        await stream.FlushAsync(cts.Token);
    }

    public Task SendAsync(uint streamId, MessageType type, FrameFlags flags, ReadOnlySpan<byte> body) =>
        SendAsync(Frame(streamId, type, flags, body));

    /// <summary>Reads the next whole frame, or null at EOF.</summary>
    public async Task<(FrameHeader Header, byte[] Body)?> ReadFrameAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Bounded.Default);
        while (true)
        {
            if (_filled >= FrameLimits.HeaderLength)
            {
                var header = FrameDecoder.ReadHeader(_buffer);
                int total = FrameLimits.HeaderLength + (int)header.Length;
                if (_filled >= total)
                {
                    byte[] body = _buffer.AsSpan(FrameLimits.HeaderLength, (int)header.Length).ToArray();
                    Buffer.BlockCopy(_buffer, total, _buffer, 0, _filled - total);
                    _filled -= total;
                    return (header, body);
                }
            }

            int read = await stream.ReadAsync(_buffer.AsMemory(_filled), cts.Token);
            if (read == 0)
            {
                return null;
            }

            _filled += read;
        }
    }

    public async Task<(FrameHeader Header, Wire.Response Response)> ReadResponseAsync()
    {
        var frame = await ReadFrameAsync() ?? throw new EndOfStreamException("peer closed before a response");
        frame.Header.Type.ShouldBe(MessageType.Response);
        return (frame.Header, Wire.Response.Parser.ParseFrom(frame.Body));
    }

    public ValueTask DisposeAsync() => stream.DisposeAsync();
}
