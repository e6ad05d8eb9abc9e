using Cc.TestKit;
using Cc.Ttrpc.Framing;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Ttrpc.Tests;

public sealed class StreamingTests
{
    private static void AddStreams(ServiceDefinition.Builder b) => b
        .AddServerStreaming<Int32Value, Int32Value>("Count", Int32Value.Parser, static async (request, writer, context) =>
        {
            for (int i = 0; i < request.Value; i++)
            {
                await writer.WriteAsync(new Int32Value { Value = i }, context.CancellationToken);
            }
        })
        .AddServerStreaming<Int32Value, Int32Value>("CountThenFail", Int32Value.Parser, static async (request, writer, context) =>
        {
            for (int i = 0; i < request.Value; i++)
            {
                await writer.WriteAsync(new Int32Value { Value = i }, context.CancellationToken);
            }

            throw new TtrpcException(StatusCode.Aborted, "stopped on purpose");
        })
        .AddClientStreaming<Int32Value, Int32Value>("Sum", Int32Value.Parser, static async (reader, context) =>
        {
            int sum = 0;
            await foreach (var item in reader.ReadAllAsync(context.CancellationToken))
            {
                sum += item.Value;
            }

            return new Int32Value { Value = sum };
        })
        .AddDuplexStreaming<StringValue, StringValue>("Shout", StringValue.Parser, static async (reader, writer, context) =>
        {
            await foreach (var item in reader.ReadAllAsync(context.CancellationToken))
            {
                await writer.WriteAsync(new StringValue { Value = item.Value.ToUpperInvariant() }, context.CancellationToken);
            }
        });

    [Fact]
    public async Task A_server_stream_delivers_every_message_in_order_and_then_ends()
    {
        await using var harness = Harness.Start(AddStreams);

        using var call = harness.Client.ServerStreaming(Harness.Service, "Count", new Int32Value { Value = 100 }, Int32Value.Parser);
        var received = new List<int>();
        await foreach (var item in call.ResponseStream.ReadAllAsync().WithTimeoutEach())
        {
            received.Add(item.Value);
        }

        received.ShouldBe(Enumerable.Range(0, 100));
    }

    [Fact]
    public async Task A_server_stream_that_fails_midway_ends_the_reader_with_the_handler_status()
    {
        await using var harness = Harness.Start(AddStreams);

        using var call = harness.Client.ServerStreaming(Harness.Service, "CountThenFail", new Int32Value { Value = 3 }, Int32Value.Parser);
        var received = new List<int>();
        var error = await Should.ThrowAsync<TtrpcException>(async () =>
        {
            await foreach (var item in call.ResponseStream.ReadAllAsync().WithTimeoutEach())
            {
                received.Add(item.Value);
            }
        });

        received.ShouldBe([0, 1, 2]);
        error.Code.ShouldBe(StatusCode.Aborted);
        error.Message.ShouldBe("stopped on purpose");
    }

    [Fact]
    public async Task A_client_stream_is_summed_by_the_server_after_the_client_completes_it()
    {
        await using var harness = Harness.Start(AddStreams);

        using var call = harness.Client.ClientStreaming<Int32Value, Int32Value>(Harness.Service, "Sum", Int32Value.Parser);
        for (int i = 1; i <= 10; i++)
        {
            await call.RequestStream.WriteAsync(new Int32Value { Value = i }).WithTimeout();
        }

        await call.RequestStream.CompleteAsync().WithTimeout();

        (await call.ResponseAsync.WithTimeout()).Value.ShouldBe(55);
        await Should.ThrowAsync<InvalidOperationException>(call.RequestStream.WriteAsync(new Int32Value()).AsTask());
    }

    [Fact]
    public async Task A_duplex_stream_answers_each_message_as_it_arrives()
    {
        await using var harness = Harness.Start(AddStreams);

        using var call = harness.Client.DuplexStreaming<StringValue, StringValue>(Harness.Service, "Shout", StringValue.Parser);
        await using var responses = call.ResponseStream.ReadAllAsync().GetAsyncEnumerator();
        foreach (string word in new[] { "one", "two", "three" })
        {
            await call.RequestStream.WriteAsync(new StringValue { Value = word }).WithTimeout();
            (await responses.MoveNextAsync().AsTask().WithTimeout()).ShouldBeTrue();
            responses.Current.Value.ShouldBe(word.ToUpperInvariant());
        }

        await call.RequestStream.CompleteAsync();
        (await responses.MoveNextAsync().AsTask().WithTimeout()).ShouldBeFalse();
    }

    [Fact]
    public async Task Streaming_calls_use_the_reference_flags_on_the_wire()
    {
        var (clientEnd, peerEnd) = DuplexPipe.Create();
        await using var client = new TtrpcClient(clientEnd);
        await using var peer = new RawPeer(peerEnd);

        using var serverStream = client.ServerStreaming(Harness.Service, "Count", new Int32Value { Value = 1 }, Int32Value.Parser);
        using var clientStream = client.ClientStreaming<Int32Value, Int32Value>(Harness.Service, "Sum", Int32Value.Parser);
        await clientStream.RequestStream.WriteAsync(new Int32Value { Value = 0 });
        await clientStream.RequestStream.CompleteAsync();

        var frames = new List<FrameHeader>();
        for (int i = 0; i < 4; i++)
        {
            frames.Add((await peer.ReadFrameAsync())!.Value.Header);
        }

        frames.ShouldBe([
            new FrameHeader(frames[0].Length, 1, MessageType.Request, FrameFlags.RemoteClosed),
            new FrameHeader(frames[1].Length, 3, MessageType.Request, FrameFlags.RemoteOpen),
            new FrameHeader(0, 3, MessageType.Data, FrameFlags.None), // an empty message is still sent as data
            new FrameHeader(0, 3, MessageType.Data, FrameFlags.RemoteClosed | FrameFlags.NoData),
        ]);
    }

    [Fact]
    public async Task The_server_ends_a_successful_server_stream_with_an_empty_RemoteClosed_data_frame()
    {
        var server = new TtrpcServer();
        server.Register(Harness.EchoService(AddStreams));
        var (serverEnd, peerEnd) = DuplexPipe.Create();
        var serving = server.ServeConnectionAsync(serverEnd);
        await using var peer = new RawPeer(peerEnd);
        var request = new Wire.Request { Service = Harness.Service, Method = "Count", Payload = new Int32Value { Value = 2 }.ToByteString() };

        await peer.SendAsync(1, MessageType.Request, FrameFlags.RemoteClosed, request.ToByteArray());
        var frames = new List<(FrameHeader Header, byte[] Body)>();
        for (int i = 0; i < 3; i++)
        {
            frames.Add((await peer.ReadFrameAsync())!.Value);
        }

        frames.Select(f => (f.Header.Type, f.Header.Flags)).ShouldBe([
            (MessageType.Data, FrameFlags.None),
            (MessageType.Data, FrameFlags.None),
            (MessageType.Data, FrameFlags.RemoteClosed | FrameFlags.NoData),
        ]);
        frames[0].Body.Length.ShouldBe(0); // Int32Value{0} is the empty message
        Int32Value.Parser.ParseFrom(frames[1].Body).Value.ShouldBe(1);
        await server.DisposeAsync().WithTimeout();
        await serving.WithTimeout();
    }

    [Fact]
    public async Task A_close_data_frame_that_carries_data_is_InvalidArgument()
    {
        var server = new TtrpcServer();
        server.Register(Harness.EchoService(AddStreams));
        var (serverEnd, peerEnd) = DuplexPipe.Create();
        var serving = server.ServeConnectionAsync(serverEnd);
        await using var peer = new RawPeer(peerEnd);
        var request = new Wire.Request { Service = Harness.Service, Method = "Sum" };

        await peer.SendAsync(1, MessageType.Request, FrameFlags.RemoteOpen, request.ToByteArray());
        await peer.SendAsync(1, MessageType.Data, FrameFlags.RemoteClosed, new Int32Value { Value = 4 }.ToByteArray());
        var (header, response) = await peer.ReadResponseAsync();

        header.StreamId.ShouldBe(1u);
        response.Status.Code.ShouldBe((int)StatusCode.InvalidArgument);
        response.Status.Message.ShouldBe("data close message cannot include data");

        // Exactly one final frame for stream 1: the next frame on the wire answers the next request.
        var echo = new Wire.Request { Service = Harness.Service, Method = "EchoText", Payload = new StringValue { Value = "next" }.ToByteString() };
        await peer.SendAsync(3, MessageType.Request, FrameFlags.None, echo.ToByteArray());
        (await peer.ReadResponseAsync()).Header.StreamId.ShouldBe(3u);
        await server.DisposeAsync().WithTimeout();
        await serving.WithTimeout();
    }

    [Fact]
    public async Task A_stream_call_fails_with_Unavailable_when_the_connection_is_lost()
    {
        await using var harness = Harness.Start(AddStreams);
        using var call = harness.Client.DuplexStreaming<StringValue, StringValue>(Harness.Service, "Shout", StringValue.Parser);
        await call.RequestStream.WriteAsync(new StringValue { Value = "a" });

        await harness.Server.DisposeAsync().WithTimeout();

        var error = await Should.ThrowAsync<TtrpcException>(async () =>
        {
            await foreach (var _ in call.ResponseStream.ReadAllAsync().WithTimeoutEach())
            {
            }
        });
        error.Code.ShouldBe(StatusCode.Unavailable);
    }
}

internal static class AsyncEnumerableBounds
{
    /// <summary>Fails the enumeration if any single element takes longer than the default bound.</summary>
    public static async IAsyncEnumerable<T> WithTimeoutEach<T>(this IAsyncEnumerable<T> source)
    {
        await using var enumerator = source.GetAsyncEnumerator();
        while (await enumerator.MoveNextAsync().AsTask().WithTimeout())
        {
            yield return enumerator.Current;
        }
    }
}
