using Cc.Bench.Ttrpc;
using Cc.Ttrpc;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Integration.Ttrpc;

/// <summary>Our streaming client against the Go 1.2 server (ttrpc 1.1 has no streams).</summary>
public sealed class CSharpClientStreamingTests(GoServersFixture go) : IClassFixture<GoServersFixture>
{
    [Fact]
    public async Task A_server_stream_from_Go_delivers_every_message_in_order_then_ends()
    {
        await using var client = await Interop.ConnectAsync(go.Address(GoPeer.V12));
        using var timeout = new CancellationTokenSource(Interop.Timeout);

        using var call = client.ServerStreaming<BytesValue, BytesValue>(EchoService.Name, "ServerStream", Interop.Bytes("5"), BytesValue.Parser);
        var received = new List<string>();
        await foreach (var message in call.ResponseStream.ReadAllAsync(timeout.Token))
        {
            received.Add(message.Value.ToStringUtf8());
        }

        received.ShouldBe(["0", "1", "2", "3", "4"]);
    }

    [Fact]
    public async Task An_empty_server_stream_from_Go_ends_without_messages()
    {
        await using var client = await Interop.ConnectAsync(go.Address(GoPeer.V12));
        using var timeout = new CancellationTokenSource(Interop.Timeout);

        using var call = client.ServerStreaming<BytesValue, BytesValue>(EchoService.Name, "ServerStream", Interop.Bytes("0"), BytesValue.Parser);
        var count = 0;
        await foreach (var _ in call.ResponseStream.ReadAllAsync(timeout.Token))
        {
            count++;
        }

        count.ShouldBe(0);
    }

    [Fact]
    public async Task A_client_stream_to_Go_is_answered_once_with_everything_it_sent()
    {
        await using var client = await Interop.ConnectAsync(go.Address(GoPeer.V12));
        using var timeout = new CancellationTokenSource(Interop.Timeout);

        using var call = client.ClientStreaming<BytesValue, BytesValue>(EchoService.Name, "ClientStream", BytesValue.Parser);
        for (var i = 0; i < 5; i++)
        {
            await call.RequestStream.WriteAsync(Interop.Bytes($"m{i}"), timeout.Token);
        }

        await call.RequestStream.CompleteAsync();
        var response = await call.ResponseAsync.WaitAsync(Interop.Timeout);

        response.Value.ToStringUtf8().ShouldBe("m0,m1,m2,m3,m4");
    }

    [Fact]
    public async Task A_bidirectional_stream_with_Go_echoes_each_message_and_ends_after_the_half_close()
    {
        await using var client = await Interop.ConnectAsync(go.Address(GoPeer.V12));
        using var timeout = new CancellationTokenSource(Interop.Timeout);

        using var call = client.DuplexStreaming<BytesValue, BytesValue>(EchoService.Name, "Bidi", BytesValue.Parser);
        await using var responses = call.ResponseStream.ReadAllAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);
        var echoed = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            await call.RequestStream.WriteAsync(Interop.Bytes($"b{i}"), timeout.Token);
            (await responses.MoveNextAsync()).ShouldBeTrue();
            echoed.Add(responses.Current.Value.ToStringUtf8());
        }

        await call.RequestStream.CompleteAsync();

        echoed.ShouldBe(["b0", "b1", "b2", "b3", "b4"]);
        (await responses.MoveNextAsync()).ShouldBeFalse();
    }

    [Fact]
    public async Task Streams_and_unary_calls_share_one_connection_with_Go()
    {
        await using var client = await Interop.ConnectAsync(go.Address(GoPeer.V12));
        using var timeout = new CancellationTokenSource(Interop.Timeout);

        using var call = client.DuplexStreaming<BytesValue, BytesValue>(EchoService.Name, "Bidi", BytesValue.Parser);
        await using var responses = call.ResponseStream.ReadAllAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);
        await call.RequestStream.WriteAsync(Interop.Bytes("first"), timeout.Token);
        (await responses.MoveNextAsync()).ShouldBeTrue();

        (await client.CallAsync("Echo", "between")).Value.ToStringUtf8().ShouldBe("between");

        await call.RequestStream.WriteAsync(Interop.Bytes("second"), timeout.Token);
        (await responses.MoveNextAsync()).ShouldBeTrue();
        responses.Current.Value.ToStringUtf8().ShouldBe("second");
        await call.RequestStream.CompleteAsync();
        (await responses.MoveNextAsync()).ShouldBeFalse();
    }

    [Fact]
    public async Task A_failing_Go_stream_handler_ends_the_stream_with_its_status()
    {
        await using var client = await Interop.ConnectAsync(go.Address(GoPeer.V12));
        using var timeout = new CancellationTokenSource(Interop.Timeout);

        using var call = client.ServerStreaming<BytesValue, BytesValue>(EchoService.Name, "ServerStream", Interop.Bytes("not a number"), BytesValue.Parser);
        var error = await Should.ThrowAsync<TtrpcException>(async () =>
        {
            await foreach (var _ in call.ResponseStream.ReadAllAsync(timeout.Token))
            {
            }
        });

        error.Code.ShouldBe(StatusCode.InvalidArgument);
        error.Message.ShouldContain("message count");
    }

    [Fact]
    public async Task A_stream_call_to_a_ttrpc_1_1_server_fails_with_Unimplemented()
    {
        // containerd 1.6's ttrpc has no streams: it answers the Request as an unknown unary method.
        await using var client = await Interop.ConnectAsync(go.Address(GoPeer.V11));
        using var timeout = new CancellationTokenSource(Interop.Timeout);

        using var call = client.ClientStreaming<BytesValue, BytesValue>(EchoService.Name, "ClientStream", BytesValue.Parser);
        var error = await Should.ThrowAsync<TtrpcException>(() => call.ResponseAsync.WaitAsync(Interop.Timeout));

        error.Code.ShouldBe(StatusCode.Unimplemented);
        error.Message.ShouldBe("method ClientStream");
        (await client.CallAsync("Echo", "after")).Value.ToStringUtf8().ShouldBe("after");
    }
}
