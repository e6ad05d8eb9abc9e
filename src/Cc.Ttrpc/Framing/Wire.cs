namespace Cc.Ttrpc.Framing;

// The ttrpc frame header, 10 bytes, big-endian (protocol.md §1.2):
//   offset 0  uint32  data length (bytes after the header, at most MessageLengthMax)
//   offset 4  uint32  stream id (odd = client initiated)
//   offset 8  uint8   message type
//   offset 9  uint8   flags (meaning depends on the type)
//   offset 10 ...     data: a protobuf message, possibly empty

/// <summary>The type byte of a frame (protocol.md §1.3).</summary>
public enum MessageType : byte
{
    /// <summary>Opens a stream; data is a <c>ttrpc.Request</c>. Sent by the client only.</summary>
    Request = 0x01,

    /// <summary>Final message of a stream; data is a <c>ttrpc.Response</c>. Sent by the server only.</summary>
    Response = 0x02,

    /// <summary>Stream payload (v1.2+): the raw user message, not wrapped.</summary>
    Data = 0x03,
}

/// <summary>The flags byte of a frame (protocol.md §1.3).</summary>
[Flags]
public enum FrameFlags : byte
{
    None = 0,

    /// <summary>On Request and Data: the sender will send no more data on this stream (half-close).</summary>
    RemoteClosed = 0x01,

    /// <summary>On Request: a non-unary call, the client follows up with Data frames.</summary>
    RemoteOpen = 0x02,

    /// <summary>On Data: the frame carries no payload (usually with RemoteClosed).</summary>
    NoData = 0x04,
}

/// <summary>Wire limits shared with the Go reference (channel.go).</summary>
public static class FrameLimits
{
    /// <summary>Size of the fixed frame header.</summary>
    public const int HeaderLength = 10;

    /// <summary>Largest data length either side sends or accepts: 4 MiB (messageLengthMax = 4 &lt;&lt; 20).</summary>
    public const int MessageLengthMax = 4 << 20;
}

/// <summary>A decoded frame header. <see cref="Length"/> is the raw length field, which may exceed the limit.</summary>
public readonly record struct FrameHeader(uint Length, uint StreamId, MessageType Type, FrameFlags Flags)
{
    public bool Has(FrameFlags flag) => (Flags & flag) == flag;
}
