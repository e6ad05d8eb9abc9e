using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Cc.Shim.Network;

namespace Cc.Shim.Tests.Network;

// The pump between a real loopback TCP connection (the host's side, as containerd's dial arrives) and a fake guest
// connection: end of stream and half-close each way, and a reset when the guest's side fails.
public sealed class ForwardPumpTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_clients_half_close_reaches_the_guest_and_the_guests_whole_answer_then_its_end_reach_the_client()
    {
        var (client, host) = await ConnectedPairAsync();
        using var _ = client;
        var guest = new FakeGuest();
        var pump = ForwardPump.RunAsync(host, guest, CancellationToken.None);

        await client.SendAsync("GET /\n"u8.ToArray(), SocketFlags.None);
        client.Shutdown(SocketShutdown.Send);
        (await guest.Received.Task.WaitAsync(s_timeout)).ShouldBe("GET /\n");
        guest.WriteClosed.ShouldBeTrue();

        // The guest answers after the client's half-close, then ends its stream.
        await guest.Output.Writer.WriteAsync("the answer"u8.ToArray());
        guest.Output.Writer.Complete();

        (await ReadToEndAsync(client)).ShouldBe("the answer");
        (await pump.WaitAsync(s_timeout)).ShouldBeTrue();
    }

    [Fact]
    public async Task The_guests_end_of_stream_half_closes_the_client_which_can_still_send()
    {
        var (client, host) = await ConnectedPairAsync();
        using var _ = client;
        var guest = new FakeGuest();
        var pump = ForwardPump.RunAsync(host, guest, CancellationToken.None);

        await guest.Output.Writer.WriteAsync("banner"u8.ToArray());
        guest.Output.Writer.Complete();
        (await ReadToEndAsync(client)).ShouldBe("banner");

        await client.SendAsync("late"u8.ToArray(), SocketFlags.None);
        client.Shutdown(SocketShutdown.Send);
        (await guest.Received.Task.WaitAsync(s_timeout)).ShouldBe("late");
        (await pump.WaitAsync(s_timeout)).ShouldBeTrue();
    }

    [Fact]
    public async Task A_guest_side_that_fails_resets_the_clients_connection()
    {
        var (client, host) = await ConnectedPairAsync();
        using var _ = client;
        var guest = new FakeGuest();
        var pump = ForwardPump.RunAsync(host, guest, CancellationToken.None);

        guest.Output.Writer.Complete(new IOException("connection reset by the guest's peer"));

        (await pump.WaitAsync(s_timeout)).ShouldBeFalse();
        var reset = await Should.ThrowAsync<SocketException>(async () => await ReadToEndAsync(client));
        reset.SocketErrorCode.ShouldBe(SocketError.ConnectionReset);
    }

    [Fact]
    public async Task Reset_closes_with_a_tcp_reset_not_an_orderly_end()
    {
        var (client, host) = await ConnectedPairAsync();
        using var _ = client;

        ForwardPump.Reset(host);

        var reset = await Should.ThrowAsync<SocketException>(async () => await ReadToEndAsync(client));
        reset.SocketErrorCode.ShouldBe(SocketError.ConnectionReset);
    }

    private static async Task<(Socket Client, Socket Host)> ConnectedPairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        var host = await listener.AcceptAsync();
        return (client, host);
    }

    private static async Task<string> ReadToEndAsync(Socket socket)
    {
        using var cts = new CancellationTokenSource(s_timeout);
        var all = new MemoryStream();
        var buffer = new byte[4096];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
        {
            all.Write(buffer, 0, read);
        }
        return Encoding.UTF8.GetString(all.ToArray());
    }

    /// <summary>The guest's side: what it is sent is collected until the half-close; what it answers comes from Output.</summary>
    private sealed class FakeGuest : IGuestConnection
    {
        private readonly MemoryStream _received = new();

        public Channel<byte[]> Output { get; } = Channel.CreateUnbounded<byte[]>();

        public TaskCompletionSource<string> Received { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool WriteClosed { get; private set; }

        public async Task<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            if (!await Output.Reader.WaitToReadAsync(cancellationToken))
            {
                return 0;
            }
            var chunk = await Output.Reader.ReadAsync(cancellationToken);
            chunk.CopyTo(buffer);
            return chunk.Length;
        }

        public Task WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            _received.Write(data.Span);
            return Task.CompletedTask;
        }

        public Task CloseWriteAsync(CancellationToken cancellationToken)
        {
            WriteClosed = true;
            Received.TrySetResult(Encoding.UTF8.GetString(_received.ToArray()));
            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
