using System.Buffers;
using System.Buffers.Binary;

namespace Cc.Ttrpc.Framing;

/// <summary>
/// Pure frame parsing. A decoder instance only remembers how many bytes of an oversized frame it still
/// has to skip, so a frame whose length exceeds <see cref="FrameLimits.MessageLengthMax"/> is never
/// buffered: its header is reported at once and its body is dropped as it arrives.
/// </summary>
public struct FrameDecoder
{
    private long _discardRemaining;

    /// <summary>True while the body of an oversized frame is still being skipped.</summary>
    public readonly bool IsDiscarding => _discardRemaining > 0;

    /// <summary>
    /// Reads one frame from the front of <paramref name="buffer"/> and slices it off. Returns false when
    /// more bytes are needed (the buffer is then left at the first unconsumed byte). For an oversized
    /// frame it returns true with <paramref name="oversized"/> set and an empty payload; the body is
    /// discarded by this and later calls.
    /// The payload aliases <paramref name="buffer"/>'s memory: it is valid until the caller advances
    /// the pipe past it.
    /// </summary>
    public bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out FrameHeader header,
        out ReadOnlySequence<byte> payload, out bool oversized)
    {
        header = default;
        payload = default;
        oversized = false;
        while (true)
        {
            if (_discardRemaining > 0)
            {
                long skip = Math.Min(_discardRemaining, buffer.Length);
                buffer = buffer.Slice(skip);
                _discardRemaining -= skip;
                if (_discardRemaining > 0)
                {
                    return false;
                }
            }

            if (!TryReadHeader(buffer, out header))
            {
                return false;
            }

            if (header.Length > FrameLimits.MessageLengthMax)
            {
                buffer = buffer.Slice(FrameLimits.HeaderLength);
                _discardRemaining = header.Length;
                oversized = true;
                return true;
            }

            long total = FrameLimits.HeaderLength + (long)header.Length;
            if (buffer.Length < total)
            {
                return false;
            }

            payload = buffer.Slice(FrameLimits.HeaderLength, header.Length);
            buffer = buffer.Slice(total);
            return true;
        }
    }

    /// <summary>Decodes the 10-byte header at the front of <paramref name="buffer"/> without consuming it.</summary>
    public static bool TryReadHeader(in ReadOnlySequence<byte> buffer, out FrameHeader header)
    {
        if (buffer.Length < FrameLimits.HeaderLength)
        {
            header = default;
            return false;
        }

        Span<byte> bytes = stackalloc byte[FrameLimits.HeaderLength];
        buffer.Slice(0, FrameLimits.HeaderLength).CopyTo(bytes);
        header = ReadHeader(bytes);
        return true;
    }

    public static FrameHeader ReadHeader(ReadOnlySpan<byte> bytes) => new(
        BinaryPrimitives.ReadUInt32BigEndian(bytes),
        BinaryPrimitives.ReadUInt32BigEndian(bytes[4..]),
        (MessageType)bytes[8],
        (FrameFlags)bytes[9]);
}

/// <summary>Header encoding, the inverse of <see cref="FrameDecoder.ReadHeader"/>.</summary>
public static class FrameEncoder
{
    public static void WriteHeader(Span<byte> destination, in FrameHeader header)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, header.Length);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], header.StreamId);
        destination[8] = (byte)header.Type;
        destination[9] = (byte)header.Flags;
    }
}
