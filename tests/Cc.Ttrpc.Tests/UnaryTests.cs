using Cc.TestKit;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Ttrpc.Tests;

public sealed class UnaryTests
{
    [Fact]
    public async Task An_echo_call_over_an_in_memory_stream_returns_the_request()
    {
        await using var harness = Harness.Start();

        var reply = await harness.EchoAsync([1, 2, 3]).WithTimeout();

        reply.Value.ToByteArray().ShouldBe(new byte[] { 1, 2, 3 });
    }

    [Fact]
    public async Task An_empty_request_and_response_travel_as_zero_length_payloads()
    {
        await using var harness = Harness.Start();

        var reply = await harness.EchoAsync([]).WithTimeout();

        reply.Value.IsEmpty.ShouldBeTrue();
    }

    [Fact]
    public async Task Calls_over_a_unix_socket_round_trip()
    {
        string path = Path.Combine(Path.GetTempPath(), $"cc-ttrpc-{Guid.NewGuid():N}.sock");
        await using var server = new TtrpcServer();
        server.Register(Harness.EchoService());
        using var stop = new CancellationTokenSource();
        Task serving = server.ServeAsync(path, stop.Token);
        await Bounded.UntilAsync(() => File.Exists(path), "the socket file exists");

        await using (var client = await TtrpcClient.ConnectAsync("unix://" + path).WithTimeout())
        {
            var reply = await client.UnaryAsync(Harness.Service, "EchoText", new StringValue { Value = "hello" },
                StringValue.Parser).WithTimeout();
            reply.Value.ShouldBe("hello");
        }

        stop.Cancel();
        await serving.WithTimeout();
        File.Exists(path).ShouldBeFalse();
    }

    [Fact]
    public async Task A_handler_exception_becomes_Unknown_and_the_server_keeps_serving()
    {
        await using var harness = Harness.Start();

        var error = await Should.ThrowAsync<TtrpcException>(
            harness.Client.UnaryAsync(Harness.Service, "Fail", new StringValue { Value = "boom" }, StringValue.Parser).WithTimeout());

        error.Code.ShouldBe(StatusCode.Unknown);
        error.Message.ShouldBe("boom");
        (await harness.EchoAsync([7]).WithTimeout()).Value.ToByteArray().ShouldBe(new byte[] { 7 });
    }

    [Fact]
    public async Task A_TtrpcException_from_a_handler_reaches_the_client_with_its_code_and_message()
    {
        await using var harness = Harness.Start(b => b.AddUnary<Empty, Empty>("NotFound", Empty.Parser,
            static (_, _) => throw new TtrpcException(StatusCode.NotFound, "container c1: not found")));

        var error = await Should.ThrowAsync<TtrpcException>(
            harness.Client.UnaryAsync(Harness.Service, "NotFound", new Empty(), Empty.Parser).WithTimeout());

        error.Code.ShouldBe(StatusCode.NotFound);
        error.Message.ShouldBe("container c1: not found");
    }

    [Fact]
    public async Task An_unknown_service_is_Unimplemented_with_the_reference_text()
    {
        await using var harness = Harness.Start();

        var error = await Should.ThrowAsync<TtrpcException>(
            harness.Client.UnaryAsync("no.such.Service", "Echo", new Empty(), Empty.Parser).WithTimeout());

        error.Code.ShouldBe(StatusCode.Unimplemented);
        error.Message.ShouldBe("service no.such.Service");
    }

    [Fact]
    public async Task An_unknown_method_is_Unimplemented_with_the_reference_text()
    {
        await using var harness = Harness.Start();

        var error = await Should.ThrowAsync<TtrpcException>(
            harness.Client.UnaryAsync(Harness.Service, "Nope", new Empty(), Empty.Parser).WithTimeout());

        error.Code.ShouldBe(StatusCode.Unimplemented);
        error.Message.ShouldBe("method Nope");
    }

    [Fact]
    public async Task Metadata_reaches_the_handler_in_wire_order_with_defaults_first()
    {
        Metadata? seen = null;
        var defaults = new Metadata { { "containerd-namespace-ttrpc", "k8s.io" } };
        await using var harness = Harness.Start(
            b => b.AddUnary<Empty, Empty>("Md", Empty.Parser, (_, context) =>
            {
                seen = context.RequestMetadata;
                return ValueTask.FromResult(new Empty());
            }),
            clientOptions: new TtrpcClientOptions { DefaultMetadata = defaults });

        var extra = new Metadata { { "traceparent", "a" }, { "traceparent", "b" } };
        await harness.Client.UnaryAsync(Harness.Service, "Md", new Empty(), Empty.Parser, new CallOptions(Metadata: extra)).WithTimeout();

        seen.ShouldNotBeNull();
        seen.Select(kv => $"{kv.Key}={kv.Value}").ShouldBe(["containerd-namespace-ttrpc=k8s.io", "traceparent=a", "traceparent=b"]);
        seen.Get("containerd-namespace-ttrpc").ShouldBe("k8s.io");
        seen.GetAll("traceparent").ShouldBe(["a", "b"]);
    }

    [Fact]
    public async Task Sixty_four_concurrent_callers_each_get_their_own_answer()
    {
        await using var harness = Harness.Start();

        var calls = Enumerable.Range(0, 64).Select(async i =>
        {
            for (int round = 0; round < 20; round++)
            {
                var payload = BitConverter.GetBytes(i * 1000 + round);
                var reply = await harness.EchoAsync(payload);
                reply.Value.ToByteArray().ShouldBe(payload);
            }
        });

        await Task.WhenAll(calls).WithTimeout(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task One_MiB_payloads_round_trip_intact()
    {
        await using var harness = Harness.Start();
        var payload = new byte[1 << 20];
        new Random(42).NextBytes(payload);

        var reply = await harness.EchoAsync(payload).WithTimeout();

        reply.Value.Span.SequenceEqual(payload).ShouldBeTrue();
    }

    [Fact]
    public async Task A_handler_that_returns_null_is_Unknown_with_the_reference_text()
    {
        await using var harness = Harness.Start(b => b.AddUnary<Empty, Empty>("Null", Empty.Parser,
            static (_, _) => ValueTask.FromResult<Empty>(null!)));

        var error = await Should.ThrowAsync<TtrpcException>(
            harness.Client.UnaryAsync(Harness.Service, "Null", new Empty(), Empty.Parser).WithTimeout());

        error.Code.ShouldBe(StatusCode.Unknown);
        error.Message.ShouldBe("ttrpc: marshal called with nil");
    }

    [Fact]
    public async Task Data_sent_to_a_unary_call_fails_that_call_as_a_protocol_error()
    {
        var (clientEnd, peerEnd) = Cc.TestKit.DuplexPipe.Create();
        await using var client = new TtrpcClient(clientEnd);
        await using var peer = new RawPeer(peerEnd);
        var call = client.UnaryAsync(Harness.Service, "Echo", new BytesValue(), BytesValue.Parser);
        await peer.ReadFrameAsync();

        await peer.SendAsync(RawPeer.Frame(1, Framing.MessageType.Data, Framing.FrameFlags.None, []));

        var error = await Should.ThrowAsync<TtrpcException>(call.WithTimeout());
        error.Code.ShouldBe(StatusCode.Internal);
        error.Message.ShouldBe("ttrpc: received data from non-streaming server");
    }

    [Fact]
    public async Task A_zero_or_negative_timeout_fails_locally_with_DeadlineExceeded()
    {
        await using var harness = Harness.Start();
        long before = harness.ClientEnd.BytesWritten;

        var error = await Should.ThrowAsync<TtrpcException>(
            harness.EchoAsync([1], new CallOptions(Timeout: TimeSpan.Zero)).WithTimeout());

        error.Code.ShouldBe(StatusCode.DeadlineExceeded);
        harness.ClientEnd.BytesWritten.ShouldBe(before);
    }
}
