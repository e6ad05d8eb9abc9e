using Cc.TestKit;
using Cc.Ttrpc.Framing;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Ttrpc.Tests;

/// <summary>What the server does with input a well-behaved client never sends: per-stream errors keep the connection.</summary>
public sealed class MalformedInputTests : IAsyncLifetime
{
    private readonly TtrpcServer _server = new();
    private RawPeer _peer = null!;
    private Task _serving = Task.CompletedTask;

    public Task InitializeAsync()
    {
        _server.Register(Harness.EchoService());
        var (serverEnd, peerEnd) = DuplexPipe.Create(pauseWriterThreshold: 16 << 20);
        _serving = _server.ServeConnectionAsync(serverEnd);
        _peer = new RawPeer(peerEnd);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _peer.DisposeAsync();
        await _server.DisposeAsync().WithTimeout();
        await _serving.WithTimeout();
    }

    private static byte[] EchoRequest(string text) => new Wire.Request
    {
        Service = Harness.Service,
        Method = "EchoText",
        Payload = new StringValue { Value = text }.ToByteString(),
    }.ToByteArray();

    /// <summary>The connection still works: a valid request on <paramref name="id"/> is answered.</summary>
    private async Task ShouldStillServe(uint id)
    {
        await _peer.SendAsync(id, MessageType.Request, FrameFlags.None, EchoRequest("alive"));
        var (header, response) = await _peer.ReadResponseAsync();
        header.StreamId.ShouldBe(id);
        response.Status.ShouldBeNull();
        StringValue.Parser.ParseFrom(response.Payload).Value.ShouldBe("alive");
    }

    private async Task ShouldReject(uint id, StatusCode code, string message)
    {
        var (header, response) = await _peer.ReadResponseAsync();
        header.StreamId.ShouldBe(id);
        header.Flags.ShouldBe(FrameFlags.None);
        response.Status.Code.ShouldBe((int)code);
        response.Status.Message.ShouldBe(message);
        response.Payload.IsEmpty.ShouldBeTrue();
    }

    [Fact]
    public async Task An_even_stream_id_is_answered_InvalidArgument_on_that_id()
    {
        await _peer.SendAsync(2, MessageType.Request, FrameFlags.None, EchoRequest("x"));

        await ShouldReject(2, StatusCode.InvalidArgument, "StreamID must be odd for client initiated streams");
        await ShouldStillServe(1);
    }

    [Fact]
    public async Task A_reused_or_decreasing_stream_id_is_answered_InvalidArgument()
    {
        await ShouldStillServe(5);

        await _peer.SendAsync(5, MessageType.Request, FrameFlags.None, EchoRequest("again"));
        await ShouldReject(5, StatusCode.InvalidArgument, "StreamID cannot be re-used and must increment");
        await _peer.SendAsync(3, MessageType.Request, FrameFlags.None, EchoRequest("lower"));
        await ShouldReject(3, StatusCode.InvalidArgument, "StreamID cannot be re-used and must increment");
        await ShouldStillServe(7);
    }

    [Fact]
    public async Task A_request_that_is_not_a_ttrpc_Request_is_InvalidArgument_unmarshal_request_error()
    {
        await _peer.SendAsync(1, MessageType.Request, FrameFlags.None, [0xff, 0xff, 0xff]);

        var (header, response) = await _peer.ReadResponseAsync();
        header.StreamId.ShouldBe(1u);
        response.Status.Code.ShouldBe((int)StatusCode.InvalidArgument);
        response.Status.Message.ShouldStartWith("unmarshal request error: ");
        await ShouldStillServe(3);
    }

    [Fact]
    public async Task A_payload_that_does_not_parse_as_the_method_request_is_Internal()
    {
        var request = new Wire.Request { Service = Harness.Service, Method = "EchoText", Payload = ByteString.CopyFrom(0x0a, 0x05, 0x01) };
        await _peer.SendAsync(1, MessageType.Request, FrameFlags.None, request.ToByteArray());

        var (_, response) = await _peer.ReadResponseAsync();
        response.Status.Code.ShouldBe((int)StatusCode.Internal);
        response.Status.Message.ShouldStartWith("ttrpc: error unmarshalling payload: ");
        await ShouldStillServe(3);
    }

    [Fact]
    public async Task An_oversized_frame_is_discarded_and_answered_ResourceExhausted_with_the_reference_text()
    {
        const int length = FrameLimits.MessageLengthMax + 1;
        await _peer.SendAsync(RawPeer.Frame(1, MessageType.Request, FrameFlags.None, new byte[length]));

        await ShouldReject(1, StatusCode.ResourceExhausted, "message length 4194305 exceed maximum message size of 4194304");
        await ShouldStillServe(3);
    }

    [Fact]
    public async Task A_frame_of_exactly_the_limit_is_accepted()
    {
        var request = new Wire.Request { Service = Harness.Service, Method = "Echo" };
        for (int n = FrameLimits.MessageLengthMax - 32; request.CalculateSize() != FrameLimits.MessageLengthMax; n++)
        {
            request.Payload = new BytesValue { Value = ByteString.CopyFrom(new byte[n]) }.ToByteString();
        }

        await _peer.SendAsync(1, MessageType.Request, FrameFlags.None, request.ToByteArray());
        var frame = await _peer.ReadFrameAsync();

        frame.ShouldNotBeNull();
        frame.Value.Header.StreamId.ShouldBe(1u);
        var response = Wire.Response.Parser.ParseFrom(frame.Value.Body);
        response.Status.ShouldBeNull(); // an echo of exactly the limit still fits: the Response envelope is no larger
    }

    [Fact]
    public async Task Data_on_a_stream_that_is_not_active_is_InvalidArgument()
    {
        await _peer.SendAsync(9, MessageType.Data, FrameFlags.None, [0x0a, 0x00]);

        await ShouldReject(9, StatusCode.InvalidArgument, "StreamID is no longer active");
        await ShouldStillServe(11);
    }

    [Fact]
    public async Task A_frame_of_unknown_type_is_ignored()
    {
        await _peer.SendAsync(1, (MessageType)0x09, FrameFlags.None, [1, 2, 3]);

        await ShouldStillServe(3);
    }

    [Fact]
    public async Task A_Response_sent_by_a_client_is_ignored()
    {
        await _peer.SendAsync(1, MessageType.Response, FrameFlags.None, []);

        await ShouldStillServe(3);
    }

    [Fact]
    public async Task A_short_header_followed_by_EOF_ends_the_connection_without_an_answer()
    {
        await _peer.SendAsync([0, 0, 0, 5, 0]);
        _peer.Stream.Dispose();

        await _serving.WithTimeout();
    }

    [Fact]
    public async Task EOF_inside_a_frame_body_ends_the_connection()
    {
        var frame = RawPeer.Frame(1, MessageType.Request, FrameFlags.None, EchoRequest("cut"));
        await _peer.SendAsync(frame[..^3]);
        _peer.Stream.Dispose();

        await _serving.WithTimeout();
    }

    [Fact]
    public async Task Random_bytes_neither_crash_nor_hang_the_server()
    {
        for (int seed = 1; seed <= 20; seed++)
        {
            var server = new TtrpcServer();
            server.Register(Harness.EchoService());
            var (serverEnd, peerEnd) = DuplexPipe.Create(pauseWriterThreshold: 64 << 20);
            var serving = server.ServeConnectionAsync(serverEnd);
            var garbage = new byte[16 * 1024];
            new Random(seed).NextBytes(garbage);
            if (seed % 2 == 0)
            {
                garbage[0] = 0; // a plausible length byte, so frames actually get parsed
            }

            await peerEnd.WriteAsync(garbage);
            await peerEnd.FlushAsync();
            peerEnd.Dispose();

            await serving.WithTimeout();
            await server.DisposeAsync().WithTimeout();
        }
    }

    [Fact]
    public async Task A_stream_that_restarts_sessions_takes_a_request_whose_id_does_not_increase_as_a_new_clients_first()
    {
        await using var session = RestartingSession.Start();
        // 1, 3, 5: one client. 1: a new one. 3, 5: it goes on. 3: another new one whose request 1 did not come first:
        // an id that does not increase can only be a new client's, whichever it is.
        foreach (uint id in new uint[] { 1, 3, 5, 1, 3, 5, 3, 5 })
        {
            await session.Peer.SendAsync(id, MessageType.Request, FrameFlags.None, EchoRequest("session"));
            var (header, response) = await session.Peer.ReadResponseAsync();
            header.StreamId.ShouldBe(id);
            response.Status.ShouldBeNull($"stream {id}");
        }
    }

    [Fact]
    public async Task A_new_session_abandons_the_calls_of_the_old_one_so_no_answer_of_the_old_host_reaches_the_new()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<string>();
        await using var session = RestartingSession.Start(service => service.AddUnary<StringValue, StringValue>("Hold",
            StringValue.Parser, async (_, _) =>
            {
                entered.TrySetResult();
                return new StringValue { Value = await release.Task };
            }));
        var peer = session.Peer;

        // The old host: a call on stream 3 is still running when it goes.
        await peer.SendAsync(1, MessageType.Request, FrameFlags.None, EchoRequest("old"));
        (await peer.ReadResponseAsync()).Header.StreamId.ShouldBe(1u);
        await peer.SendAsync(3, MessageType.Request, FrameFlags.None, HoldRequest());
        await entered.Task.WithTimeout();

        // The new host starts again at 1 and uses 3 itself while the old call 3 runs on.
        foreach (uint id in new uint[] { 1, 3 })
        {
            await peer.SendAsync(id, MessageType.Request, FrameFlags.None, EchoRequest("new"));
            var (header, response) = await peer.ReadResponseAsync();
            header.StreamId.ShouldBe(id);
            response.Status.ShouldBeNull($"stream {id}");
            StringValue.Parser.ParseFrom(response.Payload).Value.ShouldBe("new");
        }

        // The old call ends (its handler's continuation runs inline here): its answer, which the new host would take for
        // the one to its own stream 3, is never sent. The next frame is the answer to the new host's next call.
        release.SetResult("old answer");
        await peer.SendAsync(5, MessageType.Request, FrameFlags.None, EchoRequest("next"));
        var (nextHeader, next) = await peer.ReadResponseAsync();
        nextHeader.StreamId.ShouldBe(5u);
        StringValue.Parser.ParseFrom(next.Payload).Value.ShouldBe("next");
    }

    [Fact]
    public async Task A_stream_without_sessions_still_refuses_a_reused_id()
    {
        await _peer.SendAsync(5, MessageType.Request, FrameFlags.None, EchoRequest("first"));
        (await _peer.ReadResponseAsync()).Header.StreamId.ShouldBe(5u);
        await _peer.SendAsync(1, MessageType.Request, FrameFlags.None, EchoRequest("reused"));
        await ShouldReject(1, StatusCode.InvalidArgument, "StreamID cannot be re-used and must increment");
        await ShouldStillServe(7);
    }

    private static byte[] HoldRequest() => new Wire.Request
    {
        Service = Harness.Service,
        Method = "Hold",
        Payload = new StringValue().ToByteString(),
    }.ToByteArray();

    /// <summary>A server connection over a stream without a connection boundary (the agent's virtio-serial port).</summary>
    private sealed class RestartingSession : IAsyncDisposable
    {
        private readonly TtrpcServer _server;
        private readonly Task _serving;

        private RestartingSession(TtrpcServer server, Task serving, RawPeer peer)
        {
            _server = server;
            _serving = serving;
            Peer = peer;
        }

        public RawPeer Peer { get; }

        public static RestartingSession Start(Action<ServiceDefinition.Builder>? extra = null)
        {
            var server = new TtrpcServer();
            server.Register(Harness.EchoService(extra));
            var (serverEnd, peerEnd) = DuplexPipe.Create(pauseWriterThreshold: 16 << 20);
            return new RestartingSession(server, server.ServeConnectionAsync(serverEnd, sessionsRestart: true), new RawPeer(peerEnd));
        }

        public async ValueTask DisposeAsync()
        {
            await Peer.DisposeAsync();
            await _server.DisposeAsync().WithTimeout();
            await _serving.WithTimeout();
        }
    }
}
