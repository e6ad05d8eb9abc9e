using System.Buffers;
using System.Text;

namespace Cc.Ttrpc.Framing;

/// <summary>
/// Decodes the <c>ttrpc.Request</c> and <c>ttrpc.Response</c> envelopes in place, without copying the
/// payload: the user message is parsed straight from the frame's bytes. Field numbers are those of
/// api/ttrpc/request.proto; fields are accepted in any order, unknown fields and known fields with an
/// unexpected wire type are skipped (as protobuf decoders do). Malformed input throws <see cref="FormatException"/>.
/// </summary>
internal static class EnvelopeReader
{
    private const int WireVarint = 0;
    private const int WireFixed64 = 1;
    private const int WireLengthDelimited = 2;
    private const int WireFixed32 = 5;

    /// <summary>The Request envelope; <see cref="Service"/> and <see cref="Method"/> are UTF-8 slices of the frame.</summary>
    internal ref struct Request
    {
        public ReadOnlySpan<byte> Service;
        public ReadOnlySpan<byte> Method;
        public ReadOnlySpan<byte> Payload;
        public long TimeoutNano;
        public Metadata? Metadata;
    }

    internal ref struct Response
    {
        public ReadOnlySpan<byte> Status; // empty when absent (OK)
        public ReadOnlySpan<byte> Payload;
    }

    public static Request ReadRequest(ReadOnlySpan<byte> data)
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

    public static Response ReadResponse(ReadOnlySpan<byte> data)
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

    /// <summary>A contiguous view of <paramref name="payload"/>: the segment itself, or a copy into a pooled array the caller returns.</summary>
    public static ReadOnlySpan<byte> Contiguous(in ReadOnlySequence<byte> payload, out byte[]? rented)
    {
        if (payload.IsSingleSegment)
        {
            rented = null;
            return payload.FirstSpan;
        }

        rented = ArrayPool<byte>.Shared.Rent((int)payload.Length);
        payload.CopyTo(rented);
        return rented.AsSpan(0, (int)payload.Length);
    }

    private static void ReadKeyValue(ReadOnlySpan<byte> data, Metadata metadata)
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

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _position;

        public readonly bool End => _position >= _data.Length;

        public (int Field, int WireType) ReadTag()
        {
            ulong tag = ReadVarint();
            int field = (int)(tag >> 3);
            if (field <= 0 || tag > uint.MaxValue)
            {
                throw new FormatException($"invalid field tag {tag} at offset {_position}");
            }

            return (field, (int)(tag & 7));
        }

        public ulong ReadVarint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 70; shift += 7)
            {
                if (_position >= _data.Length)
                {
                    throw new FormatException("truncated varint");
                }

                byte b = _data[_position++];
                value |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }

            throw new FormatException("varint longer than 10 bytes");
        }

        public ReadOnlySpan<byte> ReadLengthDelimited()
        {
            ulong length = ReadVarint();
            if (length > (ulong)(_data.Length - _position))
            {
                throw new FormatException($"field length {length} runs past the end of the message");
            }

            var slice = _data.Slice(_position, (int)length);
            _position += (int)length;
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
            if (count > _data.Length - _position)
            {
                throw new FormatException("truncated fixed-size field");
            }

            _position += count;
        }
    }
}
