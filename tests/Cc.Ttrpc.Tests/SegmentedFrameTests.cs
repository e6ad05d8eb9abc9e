using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Cc.TestKit;
using Cc.Ttrpc.Framing;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Ttrpc.Tests;

/// <summary>
/// Frames are parsed where they lie in the pipe's segments, without a contiguous copy, and large frames are not
/// kept by a pool once sent.
/// </summary>
public sealed class SegmentedFrameTests
{
    private static readonly byte[] Payload = [.. Enumerable.Range(0, 300).Select(static i => (byte)(i * 7))];

    private static byte[] RequestEnvelope()
    {
        var metadata = new Metadata { { "containerd-namespace-ttrpc", "k8s.io" }, { "traceparent", "00-abc" } };
        var message = new BytesValue { Value = ByteString.CopyFrom(Payload) };
        var parts = new Envelope.RequestParts(Harness.Service, "Echo", message, message.CalculateSize(), 5_000_000_000,
            null, metadata);
        var bytes = new byte[Envelope.RequestLength(parts)];
        Envelope.WriteRequest(bytes, parts);
        return bytes;
    }

    private static byte[] ResponseEnvelope()
    {
        var status = new Google.Rpc.Status { Code = (int)StatusCode.NotFound, Message = "container c1: not found" };
        var message = new BytesValue { Value = ByteString.CopyFrom(Payload) };
        var bytes = new byte[Envelope.ResponseLength(status, message.CalculateSize())];
        Envelope.WriteResponse(bytes, status, message, message.CalculateSize());
        return bytes;
    }

    private static string Describe(in EnvelopeReader.Request request) =>
        $"{Encoding.UTF8.GetString(request.Service)}/{Encoding.UTF8.GetString(request.Method)} timeout={request.TimeoutNano} "
        + $"payload={Convert.ToHexString(BytesValue.Parser.ParseFrom(request.Payload).Value.Span)} "
        + string.Join(",", request.Metadata!.Select(static kv => $"{kv.Key}={kv.Value}"));

    private static string Describe(in EnvelopeReader.Response response)
    {
        var status = Google.Rpc.Status.Parser.ParseFrom(response.Status);
        return $"{status.Code} {status.Message} payload={Convert.ToHexString(BytesValue.Parser.ParseFrom(response.Payload).Value.Span)}";
    }

    /// <summary>Every split into two segments, then one segment per byte: every field, tag and varint straddles a boundary once.</summary>
    private static IEnumerable<(string Name, ReadOnlySequence<byte> Data)> Splits(byte[] bytes)
    {
        for (int split = 0; split <= bytes.Length; split++)
        {
            yield return ($"split at {split}", Sequences.Create(bytes.AsMemory(0, split), bytes.AsMemory(split)));
        }

        yield return ("one byte per segment",
            Sequences.Create([.. Enumerable.Range(0, bytes.Length).Select(i => (ReadOnlyMemory<byte>)bytes.AsMemory(i, 1))]));
    }

    [Fact]
    public void A_request_envelope_in_any_number_of_segments_reads_as_the_contiguous_one()
    {
        byte[] bytes = RequestEnvelope();
        string expected = Describe(EnvelopeReader.ReadRequest(new ReadOnlySequence<byte>(bytes)));
        expected.ShouldContain("test.v1.Echo/Echo timeout=5000000000 payload=00070E15");
        expected.ShouldEndWith("containerd-namespace-ttrpc=k8s.io,traceparent=00-abc");

        foreach (var (name, data) in Splits(bytes))
        {
            Describe(EnvelopeReader.ReadRequest(data)).ShouldBe(expected, name);
        }
    }

    [Fact]
    public void A_response_envelope_in_any_number_of_segments_reads_as_the_contiguous_one()
    {
        byte[] bytes = ResponseEnvelope();
        string expected = Describe(EnvelopeReader.ReadResponse(new ReadOnlySequence<byte>(bytes)));
        expected.ShouldStartWith("5 container c1: not found payload=00070E15");

        foreach (var (name, data) in Splits(bytes))
        {
            Describe(EnvelopeReader.ReadResponse(data)).ShouldBe(expected, name);
        }
    }

    [Fact]
    public void A_truncated_envelope_split_across_segments_is_still_a_format_error()
    {
        byte[] bytes = RequestEnvelope()[..^1]; // the last metadata value is one byte short

        foreach (var (name, data) in Splits(bytes))
        {
            Should.Throw<FormatException>(() => EnvelopeReader.ReadRequest(data), name);
        }
    }

    [Fact]
    public void A_frame_header_split_inside_it_is_decoded_once_the_rest_arrives()
    {
        byte[] frame = RawPeer.Frame(7, MessageType.Request, FrameFlags.None, RequestEnvelope());
        for (int split = 1; split < FrameLimits.HeaderLength + 3; split++)
        {
            var decoder = new FrameDecoder();
            var buffer = Sequences.Create(frame.AsMemory(0, split), frame.AsMemory(split, 5), frame.AsMemory(split + 5));

            decoder.TryReadFrame(ref buffer, out var header, out var payload, out bool oversized).ShouldBeTrue($"split at {split}");

            oversized.ShouldBeFalse();
            header.StreamId.ShouldBe(7u);
            Describe(EnvelopeReader.ReadRequest(payload)).ShouldBe(Describe(EnvelopeReader.ReadRequest(new ReadOnlySequence<byte>(RequestEnvelope()))));
        }
    }

    [Theory]
    [InlineData(200 * 1024)]
    [InlineData(3 << 20)]
    [InlineData(FrameLimits.MessageLengthMax - 64)] // the largest request that fits in one frame, with its envelope
    public async Task Messages_spanning_many_pipe_segments_arrive_intact_both_ways(int size)
    {
        await using var harness = Harness.Start();
        byte[] payload = new byte[size];
        new Random(size).NextBytes(payload);

        var reply = await harness.EchoAsync(payload).WithTimeout(TimeSpan.FromSeconds(30));

        reply.Value.Span.SequenceEqual(payload).ShouldBeTrue();
    }

    [Fact]
    public void A_block_larger_than_the_pooled_size_is_exactly_as_asked_and_collectable_once_returned()
    {
        using (var small = FrameMemoryPool.Instance.Rent(100))
        {
            small.Memory.Length.ShouldBeGreaterThanOrEqualTo(100);
        }

        var dropped = RentLargeAndReturn(FrameMemoryPool.PooledMax + 1);

        // The shared array pool would have rounded up to 256 KiB and kept the array once it was returned.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        dropped.IsAlive.ShouldBeFalse();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference RentLargeAndReturn(int size)
    {
        using var block = FrameMemoryPool.Instance.Rent(size);
        block.Memory.Length.ShouldBe(size);
        MemoryMarshal.TryGetArray<byte>(block.Memory, out var segment).ShouldBeTrue();
        return new WeakReference(segment.Array);
    }
}
