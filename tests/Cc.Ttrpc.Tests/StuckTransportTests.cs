using Cc.TestKit;

namespace Cc.Ttrpc.Tests;

public sealed class StuckTransportTests
{
    /// <summary>A transport whose reads ignore cancellation and dispose, like a blocking read on a character device.</summary>
    private sealed class UncancellableReadStream : Stream
    {
        public TaskCompletionSource<int> PendingRead { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override bool CanRead => true;

        public override bool CanWrite => true;

        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            new(PendingRead.Task);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }

    [Fact]
    public async Task Cancelling_a_stream_connection_completes_even_if_the_transport_read_never_returns()
    {
        await using var server = new TtrpcServer();
        server.Register(Harness.EchoService());
        var stream = new UncancellableReadStream();
        using var cts = new CancellationTokenSource();
        Task serving = server.ServeConnectionAsync(stream, cts.Token);
        await Task.Delay(50);

        cts.Cancel();

        await serving.WithTimeout();
        stream.PendingRead.SetResult(0); // the abandoned read returns at last; the loop exits quietly
    }

    [Fact]
    public async Task Disposing_a_client_completes_even_if_the_transport_read_never_returns()
    {
        var stream = new UncancellableReadStream();
        var client = new TtrpcClient(stream);

        await client.DisposeAsync().WithTimeout();

        client.Completion.IsCompleted.ShouldBeTrue();
        stream.PendingRead.SetResult(0);
    }
}
