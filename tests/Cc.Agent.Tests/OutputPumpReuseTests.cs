using Cc.Agent.Native;
using Cc.Agent.Processes;
using Cc.TestKit;
using System.Runtime.InteropServices;

namespace Cc.Agent.Tests;

/// <summary>
/// A read buffer that went to the host whole comes back (OutputPump.Return, once the answer is written) and is read into
/// again, instead of a fresh megabyte per read; a buffer cut between two answers never comes back.
/// </summary>
public sealed class OutputPumpReuseTests
{
    private const int Piece = 256 * 1024;

    private static byte[] Filled(byte value) => Enumerable.Repeat(value, Piece).ToArray();

    private static byte[] ArrayOf(ReadOnlyMemory<byte> data)
    {
        MemoryMarshal.TryGetArray(data, out var segment).ShouldBeTrue();
        return segment.Array!;
    }

    private static async Task<ReadOnlyMemory<byte>> WriteAndReadAsync(OutputPump pump, FileStream writer, byte value, int maxBytes)
    {
        await writer.WriteAsync(Filled(value));
        await Bounded.UntilAsync(() => pump.Buffered == 1, "the pump holds the piece");
        return await pump.ReadAsync(maxBytes, CancellationToken.None).AsTask().WithTimeout();
    }

    [Fact]
    public async Task A_buffer_handed_out_whole_and_given_back_is_read_into_again()
    {
        var (read, write) = Fd.CreatePipe();
        Fd.TryGrowPipe(write, OutputPump.ReadSize);
        var pump = OutputPump.Start(read);
        await using var writer = new FileStream(write, FileAccess.Write, bufferSize: 0);

        var first = await WriteAndReadAsync(pump, writer, 1, OutputPump.ReadSize);
        first.Length.ShouldBe(Piece);
        pump.Return(first);
        pump.Return(first); // a second Return of the same buffer is ignored: it must not be handed out twice
        // The pump already holds its next buffer (taken when it handed out the first): that one is read into now, and
        // the returned one after it.
        var second = await WriteAndReadAsync(pump, writer, 2, OutputPump.ReadSize);
        var third = await WriteAndReadAsync(pump, writer, 3, OutputPump.ReadSize);

        ArrayOf(second).ShouldNotBeSameAs(ArrayOf(first));
        ArrayOf(third).ShouldBeSameAs(ArrayOf(first));
        third.ToArray().ShouldBe(Filled(3));
        second.ToArray().ShouldBe(Filled(2)); // the buffer not given back was not written again
    }

    [Fact]
    public async Task A_buffer_cut_between_two_answers_is_not_read_into_again()
    {
        var (read, write) = Fd.CreatePipe();
        Fd.TryGrowPipe(write, OutputPump.ReadSize);
        var pump = OutputPump.Start(read);
        await using var writer = new FileStream(write, FileAccess.Write, bufferSize: 0);

        var head = await WriteAndReadAsync(pump, writer, 1, Piece / 2);
        var rest = await pump.ReadAsync(OutputPump.ReadSize, CancellationToken.None).AsTask().WithTimeout();
        pump.Return(head);
        pump.Return(rest);
        var second = await WriteAndReadAsync(pump, writer, 2, OutputPump.ReadSize);
        var third = await WriteAndReadAsync(pump, writer, 3, OutputPump.ReadSize);

        ArrayOf(third).ShouldNotBeSameAs(ArrayOf(head));
        head.ToArray().ShouldBe(Filled(1)[..(Piece / 2)]);
        rest.ToArray().ShouldBe(Filled(1)[..(Piece / 2)]);
        second.ToArray().ShouldBe(Filled(2));
        third.ToArray().ShouldBe(Filled(3));
    }
}
