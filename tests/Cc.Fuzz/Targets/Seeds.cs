using Cc.Ttrpc.Framing;
using Google.Protobuf;

namespace Cc.Fuzz.Targets;

/// <summary>Well-formed ttrpc bytes to start mutations from (the wire of protocol.md §1).</summary>
internal static class Seeds
{
    public const string EchoService = "fuzz.v1.Echo";

    public static byte[] Frame(uint streamId, byte type, byte flags, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[FrameLimits.HeaderLength + payload.Length];
        FrameEncoder.WriteHeader(frame, new FrameHeader((uint)payload.Length, streamId, (MessageType)type, (FrameFlags)flags));
        payload.CopyTo(frame.AsSpan(FrameLimits.HeaderLength));
        return frame;
    }

    public static byte[] Request(string method, IMessage payload, long timeoutNano = 0, params (string Key, string Value)[] metadata)
    {
        var request = new Cc.Ttrpc.Wire.Request
        {
            Service = EchoService,
            Method = method,
            Payload = payload.ToByteString(),
            TimeoutNano = timeoutNano,
        };
        foreach (var (key, value) in metadata)
        {
            request.Metadata.Add(new Cc.Ttrpc.Wire.KeyValue { Key = key, Value = value });
        }
        return request.ToByteArray();
    }

    public static byte[] Response(int code, string message, IMessage? payload) => new Cc.Ttrpc.Wire.Response
    {
        Status = code == 0 ? null : new Google.Rpc.Status { Code = code, Message = message },
        Payload = payload?.ToByteString() ?? ByteString.Empty,
    }.ToByteArray();

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
