using Cc.Agent.Protocol.V1;
using Cc.Ttrpc;
using Google.Protobuf;

namespace Cc.Agent.Tests;

// The agent's output answers are sent as a head plus the pump's own buffer (ITrailingBytesMessage): those bytes on the
// wire must be the message's ordinary encoding, which is what the shim parses.
public sealed class ReadStreamResponseTailTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(1024 * 1024)]
    public void The_head_and_the_tail_of_an_output_answer_are_its_ordinary_encoding(int length)
    {
        var data = Enumerable.Range(0, length).Select(i => (byte)(i * 13)).ToArray();
        var response = new ReadStreamResponse { Data = UnsafeByteOperations.UnsafeWrap(data) };
        ITrailingBytesMessage trailing = response;

        var prefix = new byte[trailing.CalculatePrefixSize()];
        trailing.WritePrefix(prefix);
        var tag = (byte)((trailing.TrailingFieldNumber << 3) | 2);
        var tail = trailing.TrailingBytes;
        var encoded = new List<byte>(prefix) { tag };
        for (var v = (uint)tail.Length; ; v >>= 7)
        {
            encoded.Add(v >= 0x80 ? (byte)(v | 0x80) : (byte)v);
            if (v < 0x80)
            {
                break;
            }
        }

        encoded.AddRange(tail.ToArray());
        // The empty answer (end of stream) is the empty message: proto3 omits the field, and the server never sends it
        // with a tail (FrameSender.TailAtLeast).
        (length == 0 ? Array.Empty<byte>() : encoded.ToArray()).ShouldBe(response.ToByteArray());
        if (length > 0)
        {
            System.Runtime.InteropServices.MemoryMarshal.TryGetArray(tail, out var segment).ShouldBeTrue();
            segment.Array.ShouldBeSameAs(data); // the pump's buffer itself, not a copy
        }
    }
}
