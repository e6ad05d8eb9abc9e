using Cc.Agent.Native;
using Cc.Agent.Processes;
using Cc.TestKit;

namespace Cc.Agent.Tests;

/// <summary>
/// One read hands the host what the pump has buffered, up to what the host asked for, in the order the process wrote it:
/// under TCG each round trip costs guest CPU, so a host that asks for 1 MiB gets all the small buffered chunks at once
/// instead of one chunk per call; a large chunk (a streaming process's full read) goes alone, without a gathering copy.
/// </summary>
public sealed class OutputPumpGatherTests
{
    private static byte ByteAt(long offset) => (byte)(offset * 31 % 253);

    private static byte[] Pattern(long start, int length)
    {
        var data = new byte[length];
        for (var i = 0; i < length; i++)
        {
            data[i] = ByteAt(start + i);
        }
        return data;
    }

    private static void ShouldFollowPattern(ReadOnlyMemory<byte> data, long start)
    {
        for (var i = 0; i < data.Length; i++)
        {
            if (data.Span[i] != ByteAt(start + i))
            {
                throw new InvalidDataException($"byte {start + i} differs");
            }
        }
    }

    // Writes each piece once the pump has buffered the one before (so each is a chunk of its own), then closes the pipe;
    // returns once the pump has read to its end. At most MaxBufferedChunks pieces.
    private static async Task<OutputPump> PumpHoldingPiecesAsync(params int[] pieces)
    {
        var (read, write) = Fd.CreatePipe();
        var pump = OutputPump.Start(read);
        await using (var writer = new FileStream(write, FileAccess.Write, bufferSize: 0))
        {
            long offset = 0;
            for (var i = 0; i < pieces.Length; i++)
            {
                await writer.WriteAsync(Pattern(offset, pieces[i]));
                offset += pieces[i];
                var buffered = i + 1;
                await Bounded.UntilAsync(() => pump.Buffered == buffered, $"the pump holds {buffered} chunk(s)");
            }
        }
        await pump.EndOfInput.WithTimeout();
        return pump;
    }

    [Fact]
    public async Task A_large_read_takes_all_the_small_chunks_buffered_at_once_in_order()
    {
        var pump = await PumpHoldingPiecesAsync(1000, 3000);

        var data = await pump.ReadAsync(1024 * 1024, CancellationToken.None).AsTask().WithTimeout();

        data.Length.ShouldBe(4000);
        ShouldFollowPattern(data, 0);
        pump.Buffered.ShouldBe(0);
        (await pump.ReadAsync(1024, CancellationToken.None).AsTask().WithTimeout()).IsEmpty.ShouldBeTrue();
    }

    [Fact]
    public async Task A_read_smaller_than_the_buffer_cuts_a_chunk_and_the_next_read_goes_on_from_the_cut()
    {
        var pump = await PumpHoldingPiecesAsync(1000, 3000);

        var first = await pump.ReadAsync(1500, CancellationToken.None).AsTask().WithTimeout();
        var second = await pump.ReadAsync(1024 * 1024, CancellationToken.None).AsTask().WithTimeout();

        first.Length.ShouldBe(1500);
        ShouldFollowPattern(first, 0);
        second.Length.ShouldBe(2500);
        ShouldFollowPattern(second, 1500);
        (await pump.ReadAsync(1024, CancellationToken.None).AsTask().WithTimeout()).IsEmpty.ShouldBeTrue();
    }

    [Fact]
    public async Task A_large_chunk_goes_to_the_host_whole_and_is_not_gathered_with_the_small_ones_before_it()
    {
        const int Small = 1000, Large = 512 * 1024;
        var (read, write) = Fd.CreatePipe();
        Fd.TryGrowPipe(write, OutputPump.ReadSize).ShouldBeGreaterThanOrEqualTo(OutputPump.ReadSize);
        var pump = OutputPump.Start(read);
        await using (var writer = new FileStream(write, FileAccess.Write, bufferSize: 0))
        {
            // Two small chunks fill the pump's buffer and the pump blocks with the third in its hand (or, if it had not
            // read the third yet, reads it together with the large write): a pipe write with room for it is one step
            // under the pipe's lock, so the pump's next read(2) takes all of the large write at once.
            for (var i = 0; i < 3; i++)
            {
                await writer.WriteAsync(Pattern(i * Small, Small));
                var buffered = Math.Min(i + 1, OutputPump.MaxBufferedChunks);
                await Bounded.UntilAsync(() => pump.Buffered == buffered, $"the pump holds {buffered} chunk(s)");
            }
            await writer.WriteAsync(Pattern(3 * Small, Large));
        }

        var reads = new List<int>();
        long offset = 0;
        while (true)
        {
            var data = await pump.ReadAsync(OutputPump.ReadSize, CancellationToken.None).AsTask().WithTimeout();
            if (data.IsEmpty)
            {
                break;
            }
            ShouldFollowPattern(data, offset);
            offset += data.Length;
            reads.Add(data.Length);
        }

        offset.ShouldBe(3 * Small + Large);
        reads.ShouldContain(n => n >= Large); // the large chunk whole: not cut, not gathered with the small ones
        reads.Count.ShouldBeLessThanOrEqualTo(3); // the small ones gathered: at most two reads before the large one
    }

    [Fact]
    public async Task A_read_returns_what_is_buffered_without_waiting_for_more()
    {
        var (read, write) = Fd.CreatePipe();
        var pump = OutputPump.Start(read);
        await using var writer = new FileStream(write, FileAccess.Write, bufferSize: 0);
        await writer.WriteAsync(Pattern(0, 1000));
        await Bounded.UntilAsync(() => pump.Buffered > 0, "the pump holds the first bytes");

        // The writer stays open: a read that waited to fill its 1 MiB would not return before the timeout.
        var data = await pump.ReadAsync(1024 * 1024, CancellationToken.None).AsTask().WithTimeout();

        data.Length.ShouldBeInRange(1, 1000);
        ShouldFollowPattern(data, 0);
    }
}
