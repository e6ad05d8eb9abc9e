using Cc.TestKit;
using Cc.Ttrpc.Framing;
using Cc.Ttrpc.Tests.Golden;
using System.Buffers;
using Google.Protobuf;

namespace Cc.Ttrpc.Tests;

public sealed class GoldenFrameTests
{
    private static CallOptions Namespace(string ns, TimeSpan? timeout = null) =>
        new(Timeout: timeout, Metadata: new Metadata { { GoldenFrames.NamespaceKey, ns } });

    [Fact]
    public async Task The_client_encodes_the_Connect_request_byte_for_byte_and_decodes_the_observed_reply()
    {
        var (clientEnd, peerEnd) = DuplexPipe.Create();
        await using var client = new TtrpcClient(clientEnd);
        await using var peer = new RawPeer(peerEnd);

        var call = client.UnaryAsync(GoldenFrames.TaskService, "Connect", new ConnectRequest { Id = "probe1" },
            ConnectResponse.Parser, Namespace("ptest"));
        var frame = await peer.ReadFrameAsync();
        await peer.SendAsync(GoldenFrames.ConnectReply);

        frame.ShouldNotBeNull();
        Hex.Format(RawPeer.Frame(frame.Value.Header.StreamId, frame.Value.Header.Type, frame.Value.Header.Flags, frame.Value.Body))
            .ShouldBe(Hex.Format(GoldenFrames.ConnectRequest));
        (await call.WithTimeout()).ShimPid.ShouldBe(6460u);
    }

    [Fact]
    public async Task The_server_decodes_the_Connect_request_and_encodes_the_observed_reply_byte_for_byte()
    {
        string? ns = null;
        string? id = null;
        var server = new TtrpcServer();
        server.Register(ServiceDefinition.CreateBuilder(GoldenFrames.TaskService)
            .AddUnary("Connect", ConnectRequest.Parser, (request, context) =>
            {
                id = request.Id;
                ns = context.RequestMetadata.Get(GoldenFrames.NamespaceKey);
                return ValueTask.FromResult(new ConnectResponse { ShimPid = 6460 });
            })
            .Build());
        var (serverEnd, peerEnd) = DuplexPipe.Create();
        var serving = server.ServeConnectionAsync(serverEnd);
        await using var peer = new RawPeer(peerEnd);

        await peer.SendAsync(GoldenFrames.ConnectRequest);
        var frame = await peer.ReadFrameAsync();

        frame.ShouldNotBeNull();
        Hex.Format(RawPeer.Frame(frame.Value.Header.StreamId, frame.Value.Header.Type, frame.Value.Header.Flags, frame.Value.Body))
            .ShouldBe(Hex.Format(GoldenFrames.ConnectReply));
        id.ShouldBe("probe1");
        ns.ShouldBe("ptest");
        await server.DisposeAsync().WithTimeout();
        await serving.WithTimeout();
    }

    [Fact]
    public async Task The_server_encodes_an_error_reply_byte_for_byte_with_an_empty_payload()
    {
        var server = new TtrpcServer();
        server.Register(ServiceDefinition.CreateBuilder(GoldenFrames.TaskService)
            .AddUnary<ConnectRequest, ConnectResponse>("State", ConnectRequest.Parser,
                static (_, _) => throw new TtrpcException(StatusCode.NotFound, "container not created: not found"))
            .Build());
        var (serverEnd, peerEnd) = DuplexPipe.Create();
        var serving = server.ServeConnectionAsync(serverEnd);
        await using var peer = new RawPeer(peerEnd);

        var request = new Wire.Request { Service = GoldenFrames.TaskService, Method = "State", Payload = new ConnectRequest { Id = "x" }.ToByteString() };
        await peer.SendAsync(3, MessageType.Request, FrameFlags.None, request.ToByteArray());
        var frame = await peer.ReadFrameAsync();

        frame.ShouldNotBeNull();
        Hex.Format(RawPeer.Frame(frame.Value.Header.StreamId, frame.Value.Header.Type, frame.Value.Header.Flags, frame.Value.Body))
            .ShouldBe(Hex.Format(GoldenFrames.NotFoundReply));
        await server.DisposeAsync().WithTimeout();
        await serving.WithTimeout();
    }

    [Fact]
    public async Task The_client_turns_the_observed_error_reply_into_a_NotFound_exception()
    {
        var (clientEnd, peerEnd) = DuplexPipe.Create();
        await using var client = new TtrpcClient(clientEnd);
        await using var peer = new RawPeer(peerEnd);

        var first = client.UnaryAsync(GoldenFrames.TaskService, "State", new ConnectRequest(), ConnectResponse.Parser);
        var second = client.UnaryAsync(GoldenFrames.TaskService, "State", new ConnectRequest(), ConnectResponse.Parser);
        (await peer.ReadFrameAsync())!.Value.Header.StreamId.ShouldBe(1u);
        (await peer.ReadFrameAsync())!.Value.Header.StreamId.ShouldBe(3u);
        await peer.SendAsync(GoldenFrames.NotFoundReply);
        await peer.SendAsync(RawPeer.Frame(1, MessageType.Response, FrameFlags.None, []));

        var error = await Should.ThrowAsync<TtrpcException>(second.WithTimeout());
        error.Code.ShouldBe(StatusCode.NotFound);
        error.Message.ShouldBe("container not created: not found");
        (await first.WithTimeout()).ShouldBe(new ConnectResponse());
    }

    [Fact]
    public async Task The_client_encodes_the_Forward_request_with_its_timeout_byte_for_byte()
    {
        var (clientEnd, peerEnd) = DuplexPipe.Create();
        await using var client = new TtrpcClient(clientEnd);
        await using var peer = new RawPeer(peerEnd);

        _ = client.UnaryAsync(GoldenFrames.EventsService, "Forward", GoldenFrames.ForwardPayload(),
            Google.Protobuf.WellKnownTypes.Empty.Parser, Namespace("k8s.io", TimeSpan.FromSeconds(5)));
        var frame = await peer.ReadFrameAsync();

        frame.ShouldNotBeNull();
        Hex.Format(RawPeer.Frame(frame.Value.Header.StreamId, frame.Value.Header.Type, frame.Value.Header.Flags, frame.Value.Body))
            .ShouldBe(Hex.Format(GoldenFrames.ForwardRequest));
    }

    [Fact]
    public async Task The_server_decodes_the_Forward_request_with_its_deadline_and_namespace()
    {
        ForwardRequest? seen = null;
        ServerCallContext? context = null;
        var server = new TtrpcServer();
        server.Register(ServiceDefinition.CreateBuilder(GoldenFrames.EventsService)
            .AddUnary("Forward", ForwardRequest.Parser, (request, ctx) =>
            {
                seen = request;
                context = ctx;
                return ValueTask.FromResult(new Google.Protobuf.WellKnownTypes.Empty());
            })
            .Build());
        var (serverEnd, peerEnd) = DuplexPipe.Create();
        var serving = server.ServeConnectionAsync(serverEnd);
        await using var peer = new RawPeer(peerEnd);
        var before = DateTimeOffset.UtcNow;

        await peer.SendAsync(GoldenFrames.ForwardRequest);
        var (header, response) = await peer.ReadResponseAsync();

        header.StreamId.ShouldBe(1u);
        response.Status.ShouldBeNull();
        seen.ShouldBe(GoldenFrames.ForwardPayload());
        context!.Service.ShouldBe(GoldenFrames.EventsService);
        context.Method.ShouldBe("Forward");
        context.RequestMetadata.Get(GoldenFrames.NamespaceKey).ShouldBe("k8s.io");
        context.Deadline.ShouldNotBeNull();
        (context.Deadline.Value - before).ShouldBeInRange(TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(6));
        await server.DisposeAsync().WithTimeout();
        await serving.WithTimeout();
    }

    [Fact]
    public void The_decoder_reads_the_golden_frames_identically_when_split_at_every_position()
    {
        byte[][] frames = [GoldenFrames.ConnectRequest, GoldenFrames.ConnectReply, GoldenFrames.NotFoundReply, GoldenFrames.ForwardRequest];
        byte[] all = [.. frames.SelectMany(f => f)];
        string[] expected = [.. frames.Select(f => Hex.Format(f))];

        for (int split = 0; split <= all.Length; split++)
        {
            var decoded = new List<string>();
            var decoder = new FrameDecoder();
            var first = Sequences.Create(all.AsMemory(0, split));
            Drain(ref decoder, ref first, decoded);
            var rest = Sequences.Create(first.ToArray(), all.AsMemory(split));
            Drain(ref decoder, ref rest, decoded);

            rest.Length.ShouldBe(0, $"split at {split}");
            string.Join(",", decoded).ShouldBe(string.Join(",", expected), $"split at {split}");
        }
    }

    [Fact]
    public async Task The_server_answers_the_Connect_request_delivered_in_two_writes_split_at_every_position()
    {
        for (int split = 1; split < GoldenFrames.ConnectRequest.Length; split++)
        {
            var server = new TtrpcServer();
            server.Register(ServiceDefinition.CreateBuilder(GoldenFrames.TaskService)
                .AddUnary("Connect", ConnectRequest.Parser, static (_, _) => ValueTask.FromResult(new ConnectResponse { ShimPid = 6460 }))
                .Build());
            var (serverEnd, peerEnd) = DuplexPipe.Create();
            var serving = server.ServeConnectionAsync(serverEnd);
            await using var peer = new RawPeer(peerEnd);

            await peer.SendAsync(GoldenFrames.ConnectRequest[..split]);
            await Task.Yield();
            await peer.SendAsync(GoldenFrames.ConnectRequest[split..]);
            var frame = await peer.ReadFrameAsync();

            frame.ShouldNotBeNull($"split at {split}");
            frame.Value.Body.ShouldBe(GoldenFrames.ConnectReply[FrameLimits.HeaderLength..], customMessage: $"split at {split}");
            await server.DisposeAsync().WithTimeout();
            await serving.WithTimeout();
        }
    }

    private static void Drain(ref FrameDecoder decoder, ref ReadOnlySequence<byte> buffer, List<string> decoded)
    {
        while (decoder.TryReadFrame(ref buffer, out var header, out var payload, out bool oversized))
        {
            oversized.ShouldBeFalse();
            decoded.Add(Hex.Format(RawPeer.Frame(header.StreamId, header.Type, header.Flags, payload.ToArray())));
        }
    }
}
