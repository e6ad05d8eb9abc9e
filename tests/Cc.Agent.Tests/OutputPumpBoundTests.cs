using Cc.Agent.Native;
using Cc.Agent.Processes;
using Cc.TestKit;

namespace Cc.Agent.Tests;

/// <summary>
/// The agent's side of stdio applies back-pressure: a process whose output the host does not read blocks in write(2)
/// once the pipe and the pump's bounded buffer are full; the agent never buffers more than that.
/// </summary>
public sealed class OutputPumpBoundTests
{
    private const int F_SETPIPE_SZ = 1031;
    private const int PipeSize = 4096;
    private const int Piece = 1024;
    // Several times the bound, so that a pump that buffered without limit would show it.
    private const int Total = 16 * 1024 * 1024;

    /// <summary>What one stream may hold in the guest: the pipe, the buffered chunks and the chunk in the pump's hand.</summary>
    private const long Bound = PipeSize + (OutputPump.MaxBufferedChunks + 1L) * OutputPump.ReadSize;

    private static byte ByteAt(long offset) => (byte)(offset * 13 % 251);

    [Fact]
    public async Task A_producer_the_host_does_not_read_blocks_with_at_most_the_bound_buffered_and_nothing_is_lost()
    {
        var (read, write) = Fd.CreatePipe();
        LibC.fcntl(Fd.Raw(write), F_SETPIPE_SZ, PipeSize).ShouldBe(PipeSize);
        long consumed = 0, written = 0;
        var violations = new List<string>();
        var pump = OutputPump.Start(read);
        var producer = Task.Factory.StartNew(() =>
        {
            using var sink = new FileStream(write, FileAccess.Write, bufferSize: 0);
            var piece = new byte[Piece];
            for (long offset = 0; offset < Total; offset += Piece)
            {
                for (var i = 0; i < Piece; i++)
                {
                    piece[i] = ByteAt(offset + i);
                }
                sink.Write(piece); // blocks while the pipe is full: the back-pressure under test
                var now = Interlocked.Add(ref written, Piece);
                if (now - Interlocked.Read(ref consumed) > Bound + Piece)
                {
                    lock (violations)
                    {
                        violations.Add($"{now} bytes written with {Interlocked.Read(ref consumed)} read by the host");
                    }
                }
            }
        }, TaskCreationOptions.LongRunning);

        // Nobody reads yet: the pump fills its buffer and stops, the pipe fills, the producer blocks.
        await Bounded.UntilAsync(() => pump.Buffered == OutputPump.MaxBufferedChunks, "the pump's buffer is full");
        producer.IsCompleted.ShouldBeFalse();
        Interlocked.Read(ref written).ShouldBeLessThanOrEqualTo(Bound + Piece);

        long offset = 0;
        while (true)
        {
            Interlocked.Add(ref consumed, OutputPump.ReadSize); // counted before: the producer's check may only be looser
            var data = await pump.ReadAsync(OutputPump.ReadSize, CancellationToken.None).AsTask().WithTimeout();
            Interlocked.Add(ref consumed, data.Length - OutputPump.ReadSize);
            if (data.IsEmpty)
            {
                break;
            }
            for (var i = 0; i < data.Length; i++)
            {
                if (data.Span[i] != ByteAt(offset + i))
                {
                    throw new InvalidDataException($"byte {offset + i} differs");
                }
            }
            offset += data.Length;
        }
        await producer.WithTimeout();

        offset.ShouldBe(Total);
        violations.ShouldBeEmpty();
    }
}
