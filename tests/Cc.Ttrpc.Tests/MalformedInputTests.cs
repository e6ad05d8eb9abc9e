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
    public async Task A_stream_that_restarts_sessions_takes_stream_id_1_on_an_idle_connection_as_a_new_client()
    {
        await using var server = new TtrpcServer();
        server.Register(Harness.EchoService());
        var (serverEnd, peerEnd) = DuplexPipe.Create(pauseWriterThreshold: 16 << 20);
        var serving = server.ServeConnectionAsync(serverEnd, sessionsRestart: true);
        var peer = new RawPeer(peerEnd);
        try
        {
            foreach (uint id in new uint[] { 1, 3, 5, 1, 3 })
            {
                await peer.SendAsync(id, MessageType.Request, FrameFlags.None, EchoRequest("session"));
                var (header, response) = await peer.ReadResponseAsync();
                header.StreamId.ShouldBe(id);
                response.Status.ShouldBeNull($"stream {id}");
            }
            // Only id 1 starts a session: any other lower id is still a reused one.
            await peer.SendAsync(3, MessageType.Request, FrameFlags.None, EchoRequest("reused"));
            var (reusedHeader, reused) = await peer.ReadResponseAsync();
            reusedHeader.StreamId.ShouldBe(3u);
            reused.Status.Code.ShouldBe((int)StatusCode.InvalidArgument);
            // With a call in flight an answer of the old session could pass for one of the new: id 1 is refused.
            await peer.SendAsync(7, MessageType.Request, FrameFlags.None, new Wire.Request
            {
                Service = Harness.Service,
                Method = "Sleep",
                Payload = Duration.FromTimeSpan(TimeSpan.FromSeconds(2)).ToByteString(),
            }.ToByteArray());
            await peer.SendAsync(1, MessageType.Request, FrameFlags.None, EchoRequest("busy"));
            var (busyHeader, busy) = await peer.ReadResponseAsync();
            busyHeader.StreamId.ShouldBe(1u);
            busy.Status.Code.ShouldBe((int)StatusCode.InvalidArgument);
        }
        finally
        {
            await peer.DisposeAsync();
            await server.DisposeAsync().WithTimeout();
            await serving.WithTimeout();
        }
    }
}
