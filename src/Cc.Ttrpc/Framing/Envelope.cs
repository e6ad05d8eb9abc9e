using System.Text;
using Google.Protobuf;

namespace Cc.Ttrpc.Framing;

/// <summary>
/// Writes the <c>ttrpc.Request</c> and <c>ttrpc.Response</c> envelopes (api/ttrpc/request.proto) straight
/// into a frame buffer, with the user message serialized in place as the payload field, so a call's
/// message is encoded once and never copied into an intermediate ByteString. The byte layout equals what
/// the generated classes (and Go) produce: ascending field numbers, proto3 defaults omitted.
/// </summary>
internal static class Envelope
{
    // Field tags: (number << 3) | wire type (2 = length-delimited, 0 = varint).
    private const byte RequestService = 0x0a;
    private const byte RequestMethod = 0x12;
    private const byte RequestPayload = 0x1a;
    private const byte RequestTimeoutNano = 0x20;
    private const byte RequestMetadata = 0x2a;
    private const byte KeyValueKey = 0x0a;
    private const byte KeyValueValue = 0x12;
    private const byte ResponseStatus = 0x0a;
    private const byte ResponsePayload = 0x12;

    /// <summary>Everything needed to size and write a Request envelope.</summary>
    internal readonly struct RequestParts(string service, string method, IMessage? payload, int payloadLength,
        long timeoutNano, Metadata? defaults, Metadata? extra)
    {
        public readonly string Service = service;
        public readonly string Method = method;
        public readonly IMessage? Payload = payload;
        public readonly int PayloadLength = payloadLength;
        public readonly long TimeoutNano = timeoutNano;
        public readonly Metadata? Defaults = defaults;
        public readonly Metadata? Extra = extra;
    }

    public static long RequestLength(in RequestParts parts)
    {
        long length = StringFieldLength(parts.Service) + StringFieldLength(parts.Method);
        if (parts.PayloadLength > 0)
        {
            length += 1 + VarintLength((uint)parts.PayloadLength) + parts.PayloadLength;
        }

        if (parts.TimeoutNano != 0)
        {
            length += 1 + VarintLength((ulong)parts.TimeoutNano);
        }

        length += MetadataLength(parts.Defaults) + MetadataLength(parts.Extra);
        return length;
    }

    public static void WriteRequest(Span<byte> destination, in RequestParts parts)
    {
        int at = WriteStringField(destination, RequestService, parts.Service);
        at += WriteStringField(destination[at..], RequestMethod, parts.Method);
        if (parts.PayloadLength > 0)
        {
            destination[at++] = RequestPayload;
            at += WriteVarint(destination[at..], (uint)parts.PayloadLength);
            parts.Payload!.WriteTo(destination.Slice(at, parts.PayloadLength));
            at += parts.PayloadLength;
        }

        if (parts.TimeoutNano != 0)
        {
            destination[at++] = RequestTimeoutNano;
            at += WriteVarint(destination[at..], (ulong)parts.TimeoutNano);
        }

        at += WriteMetadata(destination[at..], parts.Defaults);
        WriteMetadata(destination[at..], parts.Extra);
    }

    /// <summary>Length of a Response envelope; <paramref name="status"/> is null for OK (Go omits it).</summary>
    public static long ResponseLength(Google.Rpc.Status? status, int payloadLength)
    {
        long length = 0;
        if (status is not null)
        {
            int statusLength = status.CalculateSize();
            length += 1 + VarintLength((uint)statusLength) + statusLength;
        }

        if (payloadLength > 0)
        {
            length += 1 + VarintLength((uint)payloadLength) + payloadLength;
        }

        return length;
    }

    public static void WriteResponse(Span<byte> destination, Google.Rpc.Status? status, IMessage? payload, int payloadLength)
    {
        int at = 0;
        if (status is not null)
        {
            int statusLength = status.CalculateSize();
            destination[at++] = ResponseStatus;
            at += WriteVarint(destination[at..], (uint)statusLength);
            status.WriteTo(destination.Slice(at, statusLength));
            at += statusLength;
        }

        if (payloadLength > 0)
        {
            destination[at++] = ResponsePayload;
            at += WriteVarint(destination[at..], (uint)payloadLength);
            payload!.WriteTo(destination.Slice(at, payloadLength));
        }
    }

    /// <summary>Length of an OK Response envelope up to its payload's first byte (tag and length).</summary>
    public static int ResponsePayloadHeadLength(int payloadLength) => 1 + VarintLength((uint)payloadLength);

    /// <summary>Writes an OK Response envelope up to its payload's first byte; the payload follows it.</summary>
    public static int WriteResponsePayloadHead(Span<byte> destination, int payloadLength)
    {
        destination[0] = ResponsePayload;
        return 1 + WriteVarint(destination[1..], (uint)payloadLength);
    }

    private static long MetadataLength(Metadata? metadata)
    {
        if (metadata is null)
        {
            return 0;
        }

        long length = 0;
        foreach (var (key, value) in metadata)
        {
            int entry = StringFieldLength(key) + StringFieldLength(value);
            length += 1 + VarintLength((uint)entry) + entry;
        }

        return length;
    }

    private static int WriteMetadata(Span<byte> destination, Metadata? metadata)
    {
        if (metadata is null)
        {
            return 0;
        }

        int at = 0;
        foreach (var (key, value) in metadata)
        {
            int entry = StringFieldLength(key) + StringFieldLength(value);
            destination[at++] = RequestMetadata;
            at += WriteVarint(destination[at..], (uint)entry);
            at += WriteStringField(destination[at..], KeyValueKey, key);
            at += WriteStringField(destination[at..], KeyValueValue, value);
        }

        return at;
    }

    private static int StringFieldLength(string value)
    {
        if (value.Length == 0)
        {
            return 0;
        }

        int bytes = Encoding.UTF8.GetByteCount(value);
        return 1 + VarintLength((uint)bytes) + bytes;
    }

    private static int WriteStringField(Span<byte> destination, byte tag, string value)
    {
        if (value.Length == 0)
        {
            return 0;
        }

        int bytes = Encoding.UTF8.GetByteCount(value);
        destination[0] = tag;
        int at = 1 + WriteVarint(destination[1..], (uint)bytes);
        return at + Encoding.UTF8.GetBytes(value, destination[at..]);
    }

    internal static int VarintLength(ulong value)
    {
        int length = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            length++;
        }

        return length;
    }

    internal static int WriteVarint(Span<byte> destination, ulong value)
    {
        int at = 0;
        while (value >= 0x80)
        {
            destination[at++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[at++] = (byte)value;
        return at;
    }
}
