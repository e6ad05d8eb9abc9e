using System.Net.Sockets;
using Cc.TestKit;
using Cc.Ttrpc.Framing;
using Cc.Ttrpc.Transports;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Ttrpc.Tests;

/// <summary>
/// Both socket transports over a real unix socket: Cc.Ttrpc's stream one (the default, no factory) and the bench's
/// Pipelines.Sockets.Unofficial SocketConnection one, plugged in through <see cref="SocketTransportFactory"/>.
/// </summary>
public sealed class SocketTransportTests
{
    private static readonly Duration LongSleep = Duration.FromTimeSpan(TimeSpan.FromMinutes(5));

    private static SocketTransportFactory? Factory(string kind) => kind switch
    {
        "stream" => null,
        "socket-connection" => Cc.Bench.Ttrpc.SocketConnectionTransport.Create,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    private static async Task<TtrpcClient> ConnectWithRetry(string address, string kind)
    {
        var deadline = DateTime.UtcNow + Bounded.Default;
        while (true)
        {
            try
            {
                return await TtrpcClient.ConnectAsync(address, new TtrpcClientOptions { SocketTransport = Factory(kind) }).WithTimeout();
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(20); // the listener is not bound yet
            }
        }
    }

    private static (TtrpcServer Server, Task Serving, string Address) Serve(string kind, CancellationToken stop)
    {
        string address = $"@cc-ttrpc-transport-{Guid.NewGuid():N}";
        var server = new TtrpcServer(new TtrpcServerOptions { SocketTransport = Factory(kind) });
        server.Register(Harness.EchoService(static b => b.AddServerStreaming<Int32Value, Int32Value>("Count", Int32Value.Parser,
            static async (request, writer, context) =>
            {
                for (int i = 1; i <= request.Value; i++)
                {
                    await writer.WriteAsync(new Int32Value { Value = i }, context.CancellationToken);
                }
            })));
        return (server, server.ServeAsync(address, stop), address);
    }

    [Theory]
    [InlineData("stream")]
    [InlineData("socket-connection")]
    public async Task Unary_calls_streams_and_the_largest_frame_cross_a_unix_socket(string kind)
    {
        using var stop = new CancellationTokenSource();
        var (server, serving, address) = Serve(kind, stop.Token);
        await using (var client = await ConnectWithRetry(address, kind))
        {
            (await client.UnaryAsync(Harness.Service, "EchoText", new StringValue { Value = "over " + kind }, StringValue.Parser)
                .WithTimeout()).Value.ShouldBe("over " + kind);

            using var count = client.ServerStreaming(Harness.Service, "Count", new Int32Value { Value = 500 }, Int32Value.Parser);
            var received = new List<int>();
            await foreach (var item in count.ResponseStream.ReadAllAsync().WithTimeoutEach())
            {
                received.Add(item.Value);
            }

            received.ShouldBe(Enumerable.Range(1, 500));

            // A frame at the limit must fit in what a connection buffers (the SocketConnection receive pipe pauses
            // its socket loop above that bound, and a whole frame must fit below it).
            byte[] payload = new byte[FrameLimits.MessageLengthMax - 64];
            new Random(1).NextBytes(payload);
            var echoed = await client.UnaryAsync(Harness.Service, "Echo", new BytesValue { Value = ByteString.CopyFrom(payload) },
                BytesValue.Parser).WithTimeout(TimeSpan.FromSeconds(30));
            echoed.Value.Span.SequenceEqual(payload).ShouldBeTrue();

            // Concurrent calls share the connection.
            var many = await Task.WhenAll(Enumerable.Range(0, 32).Select(i => client.UnaryAsync(Harness.Service, "EchoText",
                new StringValue { Value = $"call {i}" }, StringValue.Parser))).WithTimeout();
            many.Select(static r => r.Value).ShouldBe(Enumerable.Range(0, 32).Select(static i => $"call {i}"));
        }

        stop.Cancel();
        await serving.WithTimeout();
        await server.DisposeAsync().WithTimeout();
    }

    [Theory]
    [InlineData("stream")]
    [InlineData("socket-connection")]
    public async Task A_server_going_away_fails_the_pending_call_with_Unavailable_and_ends_the_connection(string kind)
    {
        using var stop = new CancellationTokenSource();
        var (server, serving, address) = Serve(kind, stop.Token);
        await using var client = await ConnectWithRetry(address, kind);
        // One answered call first: the server has accepted the connection before it is disposed.
        await client.UnaryAsync(Harness.Service, "EchoText", new StringValue { Value = "up" }, StringValue.Parser).WithTimeout();
        var pending = client.UnaryAsync(Harness.Service, "Sleep", LongSleep, Empty.Parser);

        stop.Cancel();
        await serving.WithTimeout();
        await server.DisposeAsync().WithTimeout();

        (await Should.ThrowAsync<TtrpcException>(pending.WithTimeout())).Code.ShouldBe(StatusCode.Unavailable);
        await client.Completion.WithTimeout();
        client.CloseReason.ShouldNotBeNull();
    }
}
