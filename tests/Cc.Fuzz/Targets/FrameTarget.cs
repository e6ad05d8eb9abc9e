using System.Buffers;
using Cc.Ttrpc.Framing;
using Cc.TestKit;

namespace Cc.Fuzz.Targets;

/// <summary>
/// The frame decoder over a byte stream that arrives in pieces: the first input byte chooses where the stream is cut
/// into up to three segments. Invariants: never throws, every call either consumes bytes or asks for more (no loop
/// without progress), and a frame it returns lies inside what it was given.
/// </summary>
internal sealed class FrameTarget : IFuzzTarget
{
    public string Name => "frames";

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        var echo = Targets.Seeds.Frame(1, 1, 0, Targets.Seeds.Request("Echo", new Google.Protobuf.WellKnownTypes.BytesValue()));
        yield return ("one-request", [0, .. echo]);
        yield return ("two-requests-split", [7, .. Targets.Seeds.Concat(echo, Targets.Seeds.Frame(3, 1, 1, [1, 2, 3]))]);
        yield return ("data-frame", [3, .. Targets.Seeds.Frame(5, 3, 2, [9, 9, 9, 9])]);
        yield return ("oversize-header", [0, .. Targets.Seeds.Frame(7, 1, 0, []).Select((b, i) => i == 0 ? (byte)0x7f : b)]);
        yield return ("short-header", [1, 0, 0, 0]);
    }

    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }
        var cut = input[0];
        var data = input[1..].ToArray();
        var sequence = Segments(data, cut);
        var decoder = new FrameDecoder();
        var before = sequence.Length;
        while (decoder.TryReadFrame(ref sequence, out var header, out var payload, out var oversized))
        {
            if (!oversized && payload.Length != header.Length)
            {
                throw new FuzzFindingException($"payload of {payload.Length} bytes for a header of {header.Length}");
            }
            if (sequence.Length >= before && !oversized)
            {
                throw new FuzzFindingException("a frame was returned without consuming input");
            }
            before = sequence.Length;
        }
        if (!decoder.IsDiscarding && sequence.Length >= FrameLimits.HeaderLength && FrameDecoder.TryReadHeader(sequence, out var h)
            && h.Length <= FrameLimits.MessageLengthMax && sequence.Length >= FrameLimits.HeaderLength + h.Length)
        {
            throw new FuzzFindingException("the decoder asked for more bytes while a whole frame was buffered");
        }
    }

    public bool IsExpected(Exception e) => false;

    private static ReadOnlySequence<byte> Segments(byte[] data, byte cut)
    {
        if (data.Length < 2 || cut == 0)
        {
            return new ReadOnlySequence<byte>(data);
        }
        var first = cut % data.Length;
        var second = first + ((cut >> 4) % Math.Max(1, data.Length - first));
        return Sequences.Create(data.AsMemory(0, first), data.AsMemory(first, second - first), data.AsMemory(second));
    }
}
