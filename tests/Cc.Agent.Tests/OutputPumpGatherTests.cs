using Cc.Agent.Native;
using Cc.Agent.Processes;
using Cc.TestKit;

namespace Cc.Agent.Tests;

/// <summary>
/// One read hands the host everything the pump has buffered, up to what the host asked for, in the order the process
/// wrote it: under TCG each round trip costs guest CPU, so a host that asks for 1 MiB gets all the buffered chunks at
/// once instead of one chunk per call.
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

    // Writes `length` bytes and closes the pipe; returns once the pump has read to its end, so that everything is in its
    // buffer (however the pump's reads happened to cut it into chunks).
    private static async Task<OutputPump> PumpHoldingAsync(int length)
    {
        var (read, write) = Fd.CreatePipe();
        var pump = OutputPump.Start(read);
        await using (var writer = new FileStream(write, FileAccess.Write, bufferSize: 0))
        {
            await writer.WriteAsync(Pattern(0, length));
        }
        await pump.EndOfInput.WithTimeout();
        return pump;
    }

    [Fact]
    public async Task A_large_read_takes_everything_buffered_at_once_in_order()
    {
        var pump = await PumpHoldingAsync(4 * OutputPump.ChunkSize);

        var data = await pump.ReadAsync(1024 * 1024, CancellationToken.None).AsTask().WithTimeout();

        data.Length.ShouldBe(4 * OutputPump.ChunkSize);
        ShouldFollowPattern(data, 0);
        pump.Buffered.ShouldBe(0);
        (await pump.ReadAsync(1024, CancellationToken.None).AsTask().WithTimeout()).IsEmpty.ShouldBeTrue();
    }

    [Fact]
    public async Task A_read_smaller_than_the_buffer_cuts_a_chunk_and_the_next_read_goes_on_from_the_cut()
    {
        var pump = await PumpHoldingAsync(3 * OutputPump.ChunkSize);
        var cut = OutputPump.ChunkSize + 1000;

        var first = await pump.ReadAsync(cut, CancellationToken.None).AsTask().WithTimeout();
        var second = await pump.ReadAsync(1024 * 1024, CancellationToken.None).AsTask().WithTimeout();

        first.Length.ShouldBe(cut);
        ShouldFollowPattern(first, 0);
        second.Length.ShouldBe(3 * OutputPump.ChunkSize - cut);
        ShouldFollowPattern(second, cut);
        (await pump.ReadAsync(1024, CancellationToken.None).AsTask().WithTimeout()).IsEmpty.ShouldBeTrue();
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
