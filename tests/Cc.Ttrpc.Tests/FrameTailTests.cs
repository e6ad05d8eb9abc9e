using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using Cc.Ttrpc.Framing;
using Cc.Ttrpc.Transports;

namespace Cc.Ttrpc.Tests;

/// <summary>
/// A frame's tail (FrameSender.TryAppendWithTail) goes to the transport from the caller's memory, right after its own
/// head and before every frame queued after it.
/// </summary>
public sealed class FrameTailTests
{
    private static byte[] Pattern(int length, int seed) => [.. Enumerable.Range(0, length).Select(i => (byte)(i * 31 + seed))];

    private static byte[] Frame(uint streamId, MessageType type, byte[] data)
    {
        var frame = new byte[FrameLimits.HeaderLength + data.Length];
        FrameEncoder.WriteHeader(frame, new FrameHeader((uint)data.Length, streamId, type, FrameFlags.None));
        data.CopyTo(frame.AsSpan(FrameLimits.HeaderLength));
        return frame;
    }

    private static void Append(FrameSender sender, uint streamId, byte[] data) =>
        sender.TryAppend(streamId, MessageType.Data, FrameFlags.None, data.Length, data, static (span, d) => d.CopyTo(span))
            .ShouldBeTrue();

    [Fact]
    public async Task Frames_with_tails_reach_the_transport_whole_and_in_the_order_they_were_queued()
    {
        var sender = new FrameSender();
        var transport = new RecordingTransport();
        byte[] first = Pattern(100, 1), head = Pattern(7, 2), tail = Pattern(FrameSender.TailAtLeast + 3, 3),
            between = Pattern(50, 4), secondTail = Pattern(200_000, 5), last = Pattern(10, 6);

        Append(sender, 1, first);
        long writtenWhenTold = -1;
        sender.TryAppendWithTail(3, MessageType.Response, FrameFlags.None, head.Length, head, static (span, h) => h.CopyTo(span),
            tail, () => writtenWhenTold = transport.Written.Length).ShouldBeTrue();
        Append(sender, 5, between);
        sender.TryAppendWithTail(7, MessageType.Response, FrameFlags.None, 0, 0, static (_, _) => { }, secondTail).ShouldBeTrue();
        Append(sender, 9, last);
        sender.Complete();
        await sender.RunAsync(transport, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        byte[] expected = [.. Frame(1, MessageType.Data, first), .. Frame(3, MessageType.Response, [.. head, .. tail]),
            .. Frame(5, MessageType.Data, between), .. Frame(7, MessageType.Response, secondTail), .. Frame(9, MessageType.Data, last)];
        transport.Written.ToArray().ShouldBe(expected);
        // The caller was told once its tail had been written, not before.
        writtenWhenTold.ShouldBe(2L * FrameLimits.HeaderLength + first.Length + head.Length + tail.Length);
        // Each tail went out as its own write of the caller's array: not copied into the send buffer.
        transport.Arrays.Any(a => ReferenceEquals(a, tail)).ShouldBeTrue();
        transport.Arrays.Any(a => ReferenceEquals(a, secondTail)).ShouldBeTrue();
    }

    [Fact]
    public void A_completed_sender_takes_no_frame_with_a_tail()
    {
        var sender = new FrameSender();
        sender.Complete();
        sender.TryAppendWithTail(1, MessageType.Response, FrameFlags.None, 0, 0, static (_, _) => { }, new byte[FrameSender.TailAtLeast])
            .ShouldBeFalse();
    }

    private sealed class RecordingTransport : Transport
    {
        public MemoryStream Written { get; } = new();

        public List<byte[]> Arrays { get; } = [];

        public override PipeReader Input { get; } = new Pipe().Reader;

        public override ValueTask WriteAsync(ReadOnlySequence<byte> frames, CancellationToken cancellationToken)
        {
            foreach (var segment in frames)
            {
                if (MemoryMarshal.TryGetArray(segment, out var array) && array.Offset == 0 && array.Count == array.Array!.Length)
                {
                    Arrays.Add(array.Array);
                }

                Written.Write(segment.Span);
            }

            return ValueTask.CompletedTask;
        }

        public override void Close()
        {
        }
    }
}
