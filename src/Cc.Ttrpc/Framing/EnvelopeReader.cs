using System.Buffers;
using System.Text;

namespace Cc.Ttrpc.Framing;

/// <summary>
/// Decodes the <c>ttrpc.Request</c> and <c>ttrpc.Response</c> envelopes in place, straight from the frame's
/// segmented buffer: nothing is copied into a contiguous array, the parts are slices of the frame, and the user
/// message is parsed from its slice (protobuf reads across segment boundaries). A 1 MiB frame arrives in 16 or
/// more pipe segments, so a contiguous view would cost a 1-4 MiB array per frame. Field numbers are those of
/// api/ttrpc/request.proto; fields are accepted in any order, unknown fields and known fields with an
/// unexpected wire type are skipped (as protobuf decoders do). Malformed input throws <see cref="FormatException"/>.
/// </summary>
internal static class EnvelopeReader
{
    private const int WireVarint = 0;
    private const int WireFixed64 = 1;
    private const int WireLengthDelimited = 2;
    private const int WireFixed32 = 5;

    /// <summary>The Request envelope; every part is a slice of the frame (valid while the frame is).</summary>
    internal struct Request
    {
        public ReadOnlySequence<byte> Service; // UTF-8
        public ReadOnlySequence<byte> Method;  // UTF-8
        public ReadOnlySequence<byte> Payload;
        public long TimeoutNano;
        public Metadata? Metadata;
    }

    internal struct Response
    {
        public ReadOnlySequence<byte> Status; // empty when absent (OK)
        public ReadOnlySequence<byte> Payload;
    }

    public static Request ReadRequest(in ReadOnlySequence<byte> data)
    {
        var request = default(Request);
        var reader = new Reader(data);
        while (!reader.End)
        {
            var (field, wireType) = reader.ReadTag();
            switch (field)
            {
                case 1 when wireType == WireLengthDelimited:
                    request.Service = reader.ReadLengthDelimited();
                    break;
                case 2 when wireType == WireLengthDelimited:
                    request.Method = reader.ReadLengthDelimited();
                    break;
                case 3 when wireType == WireLengthDelimited:
                    request.Payload = reader.ReadLengthDelimited();
                    break;
                case 4 when wireType == WireVarint:
                    request.TimeoutNano = (long)reader.ReadVarint();
                    break;
                case 5 when wireType == WireLengthDelimited:
                    ReadKeyValue(reader.ReadLengthDelimited(), request.Metadata ??= new Metadata());
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }

        return request;
    }

    public static Response ReadResponse(in ReadOnlySequence<byte> data)
    {
        var response = default(Response);
        var reader = new Reader(data);
        while (!reader.End)
        {
            var (field, wireType) = reader.ReadTag();
            switch (field)
            {
                case 1 when wireType == WireLengthDelimited:
                    response.Status = reader.ReadLengthDelimited();
                    break;
                case 2 when wireType == WireLengthDelimited:
                    response.Payload = reader.ReadLengthDelimited();
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }

        return response;
    }

    /// <summary>
    /// A short UTF-8 part (a service or method name) as one span: the segment itself when it lies in one, else a
    /// copy into <paramref name="scratch"/>, or into a new array when it is longer than that.
    /// </summary>
    public static ReadOnlySpan<byte> Flatten(in ReadOnlySequence<byte> part, Span<byte> scratch)
    {
        if (part.IsSingleSegment)
        {
            return part.FirstSpan;
        }

        if (part.Length > scratch.Length)
        {
            return part.ToArray();
        }

        part.CopyTo(scratch);
        return scratch[..(int)part.Length];
    }

    private static void ReadKeyValue(in ReadOnlySequence<byte> data, Metadata metadata)
    {
        string key = string.Empty;
        string value = string.Empty;
        var reader = new Reader(data);
        while (!reader.End)
        {
            var (field, wireType) = reader.ReadTag();
            if (field is 1 or 2 && wireType == WireLengthDelimited)
            {
                string text = Encoding.UTF8.GetString(reader.ReadLengthDelimited());
                if (field == 1)
                {
                    key = text;
                }
                else
                {
                    value = text;
                }
            }
            else
            {
                reader.Skip(wireType);
            }
        }

        metadata.Add(key, value);
    }

    /// <summary>Protobuf's wire primitives over a segmented buffer (SequenceReader: a varint may straddle two segments).</summary>
    private ref struct Reader
    {
        private SequenceReader<byte> _reader;

        public Reader(in ReadOnlySequence<byte> data) => _reader = new SequenceReader<byte>(data);

        public bool End => _reader.End;

        public (int Field, int WireType) ReadTag()
        {
            ulong tag = ReadVarint();
            int field = (int)(tag >> 3);
            if (field <= 0 || tag > uint.MaxValue)
            {
                throw new FormatException($"invalid field tag {tag} at offset {_reader.Consumed}");
            }

            return (field, (int)(tag & 7));
        }

        public ulong ReadVarint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 70; shift += 7)
            {
                if (!_reader.TryRead(out byte b))
                {
                    throw new FormatException("truncated varint");
                }

                value |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }

            throw new FormatException("varint longer than 10 bytes");
        }

        public ReadOnlySequence<byte> ReadLengthDelimited()
        {
            ulong length = ReadVarint();
            if (length > (ulong)_reader.Remaining)
            {
                throw new FormatException($"field length {length} runs past the end of the message");
            }

            var slice = _reader.Sequence.Slice(_reader.Position, (long)length);
            _reader.Advance((long)length);
            return slice;
        }

        public void Skip(int wireType)
        {
            switch (wireType)
            {
                case WireVarint:
                    ReadVarint();
                    break;
                case WireFixed64:
                    Advance(8);
                    break;
                case WireLengthDelimited:
                    ReadLengthDelimited();
                    break;
                case WireFixed32:
                    Advance(4);
                    break;
                default:
                    throw new FormatException($"unsupported wire type {wireType}");
            }
        }

        private void Advance(int count)
        {
            if (count > _reader.Remaining)
            {
                throw new FormatException("truncated fixed-size field");
            }

            _reader.Advance(count);
        }
    }
}
