using Cc.Hypervisor.Native;
using Cc.Shim.Io;
using Cc.Shim.Sandbox;
using Cc.TestKit;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace Cc.Shim.Tests.Bounds;

/// <summary>
/// The host side of stdio holds at most two reads of a stream: the one it is writing into the client's FIFO and the next
/// one, asked for while that write goes on. It asks for a third only once the first is in the FIFO, so a client that
/// reads slowly stops the guest's producer (through the agent's own bounded buffer) instead of growing the shim.
/// </summary>
public sealed class StdioBoundTests : IDisposable
{
    private const int F_SETFL = 4;
    private const int F_SETPIPE_SZ = 1031;
    private const int PipeSize = 4096;
    private const int Piece = 1024;
    private const int Total = 256 * 1024;

    private static readonly ProcessKey C1 = new("c1", "");
    private readonly string _root = Directory.CreateTempSubdirectory("cc-stdio-bound-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task The_shim_asks_the_guest_for_output_only_as_fast_as_the_fifo_reader_takes_it()
    {
        var fifo = Path.Combine(_root, "stdout");
        LibC.mkfifo(fifo, Convert.ToInt32("600", 8)).ShouldBe(0);
        // The reader's end first, as containerd's cio opens it before Create; a 4 KiB pipe makes the bound tight.
        var fd = LibC.open(fifo, LibC.O_RDONLY | LibC.O_NONBLOCK | LibC.O_CLOEXEC, 0);
        fd.ShouldBeGreaterThanOrEqualTo(0);
        LibC.fcntl(fd, F_SETPIPE_SZ, PipeSize).ShouldBe(PipeSize);
        LibC.fcntl(fd, F_SETFL, 0).ShouldBe(0); // blocking reads from here on
        using var reader = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Read, bufferSize: 0);
        long consumed = 0;
        var guest = new EndlessGuest(Total, () => Interlocked.Read(ref consumed));

        var io = await ProcessIo.StartAsync(C1, new StdioSpec("", fifo, "", false), guest, "k8s.io", NullLogger.Instance,
            CancellationToken.None).WithTimeout();
        var piece = new byte[Piece];
        for (var offset = 0; offset < Total; offset += Piece)
        {
            Interlocked.Add(ref consumed, Piece); // counted before the read: the guest's check may only be looser
            await Task.Run(() => reader.ReadExactly(piece)).WithTimeout();
            for (var i = 0; i < Piece; i++)
            {
                piece[i].ShouldBe(EndlessGuest.ByteAt(offset + i));
            }
        }
        await io.OutputDrained.WithTimeout();
        await io.DisposeAsync().WithTimeout();

        guest.Violations.ShouldBeEmpty();
        guest.HandedOut.ShouldBe(Total);
        // Each read asks for all the agent may give in one round trip, not for one small buffer's worth.
        guest.LargestAsk.ShouldBe(IGuestStdio.MaxReadBytes);
    }

    /// <summary>
    /// A guest with <c>total</c> bytes of output. At every read it checks the bound: everything handed out before is
    /// either read by the client or waiting in the FIFO (at most its size), so the shim holds none of it.
    /// </summary>
    private sealed class EndlessGuest(int total, Func<long> consumed) : IGuestStdio
    {
        private int _reading;
        private long _handedOut;
        private int _lastRead; // written only by the reads, which never overlap (checked)

        public List<string> Violations { get; } = [];

        public long HandedOut => Interlocked.Read(ref _handedOut);

        public int LargestAsk { get; private set; }

        public static byte ByteAt(long offset) => (byte)(offset * 7 % 251);

        public Task<ReadOnlyMemory<byte>> ReadAsync(ProcessKey process, StdioStream stream, int maxBytes,
            CancellationToken cancellationToken)
        {
            if (stream != StdioStream.Stdout)
            {
                return Task.FromResult(ReadOnlyMemory<byte>.Empty);
            }
            if (Interlocked.Exchange(ref _reading, 1) != 0)
            {
                Violations.Add("two reads of one stream at once");
            }
            // The read before this one may still be on its way into the FIFO; everything handed out before it must be
            // read by the client or waiting in the FIFO.
            var handedOut = HandedOut;
            if (handedOut - _lastRead > consumed() + PipeSize)
            {
                Violations.Add($"read asked with {handedOut} bytes handed out ({_lastRead} in the last read), {consumed()} read by the client");
            }
            LargestAsk = Math.Max(LargestAsk, maxBytes);
            if (maxBytes > IGuestStdio.MaxReadBytes)
            {
                Violations.Add($"a read of {maxBytes} bytes");
            }
            var n = (int)Math.Min(Math.Min(maxBytes, Piece * 3), total - handedOut);
            var data = new byte[n];
            for (var i = 0; i < n; i++)
            {
                data[i] = ByteAt(handedOut + i);
            }
            _lastRead = n;
            Interlocked.Add(ref _handedOut, n);
            Volatile.Write(ref _reading, 0);
            return Task.FromResult<ReadOnlyMemory<byte>>(data);
        }

        public Task WriteStdinAsync(ProcessKey process, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
            Task.CompletedTask;

        public Task CloseStdinAsync(ProcessKey process, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task ResizePtyAsync(ProcessKey process, uint columns, uint rows, CancellationToken cancellationToken) =>
            Task.CompletedTask;
    }
}
