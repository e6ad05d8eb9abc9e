using Cc.TestKit;
using Cc.Ttrpc.Framing;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Ttrpc.Tests;

public sealed class LifecycleTests
{
    private static readonly Duration LongSleep = Duration.FromTimeSpan(TimeSpan.FromSeconds(60));

    [Fact]
    public async Task A_deadline_cancels_the_handler_token_and_the_client_gets_DeadlineExceeded()
    {
        var handlerCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        DateTimeOffset? deadline = null;
        await using var harness = Harness.Start(b => b.AddUnary<Empty, Empty>("Hang", Empty.Parser, async (_, context) =>
        {
            deadline = context.Deadline;
            context.CancellationToken.Register(() => handlerCancelled.TrySetResult());
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
            return new Empty();
        }));

        var error = await Should.ThrowAsync<TtrpcException>(harness.Client.UnaryAsync(Harness.Service, "Hang", new Empty(), Empty.Parser,
            new CallOptions(Timeout: TimeSpan.FromMilliseconds(200))).WithTimeout());

        error.Code.ShouldBe(StatusCode.DeadlineExceeded);
        await handlerCancelled.Task.WithTimeout();
        deadline.ShouldNotBeNull();
    }

    [Fact]
    public async Task A_handler_that_gives_up_at_its_deadline_reports_DeadlineExceeded()
    {
        await using var harness = Harness.Start();
        var (clientEnd, serverEnd) = DuplexPipe.Create();
        var serving = harness.Server.ServeConnectionAsync(serverEnd);
        await using var peer = new RawPeer(clientEnd);
        var request = new Wire.Request
        {
            Service = Harness.Service,
            Method = "Sleep",
            Payload = LongSleep.ToByteString(),
            TimeoutNano = 100_000_000,
        };

        await peer.SendAsync(1, MessageType.Request, FrameFlags.None, request.ToByteArray());
        var (_, response) = await peer.ReadResponseAsync();

        response.Status.Code.ShouldBe((int)StatusCode.DeadlineExceeded);
        response.Status.Message.ShouldBe("context deadline exceeded");
    }

    [Fact]
    public async Task Cancelling_the_token_fails_the_call_with_Cancelled_while_the_handler_still_runs()
    {
        await using var harness = Harness.Start();
        using var cts = new CancellationTokenSource();

        var call = harness.Client.UnaryAsync(Harness.Service, "Sleep", LongSleep, Empty.Parser, new CallOptions(CancellationToken: cts.Token));
        await Task.Delay(50);
        cts.Cancel();

        var error = await Should.ThrowAsync<TtrpcException>(call.WithTimeout());
        error.Code.ShouldBe(StatusCode.Cancelled);
        (await harness.EchoAsync([1]).WithTimeout()).Value.Length.ShouldBe(1);
    }

    [Fact]
    public async Task An_already_cancelled_token_fails_before_anything_is_written()
    {
        await using var harness = Harness.Start();
        long before = harness.ClientEnd.BytesWritten;

        var error = await Should.ThrowAsync<TtrpcException>(harness.Client.UnaryAsync(Harness.Service, "Echo", new BytesValue(),
            BytesValue.Parser, new CallOptions(CancellationToken: new CancellationToken(true))).WithTimeout());

        error.Code.ShouldBe(StatusCode.Cancelled);
        harness.ClientEnd.BytesWritten.ShouldBe(before);
    }

    [Fact]
    public async Task Cancellation_completes_even_when_the_peer_has_stopped_reading_and_our_write_is_blocked()
    {
        // The peer never reads and its pipe holds only 64 KiB: our send loop blocks inside the transport write.
        var (clientEnd, peerEnd) = DuplexPipe.Create(pauseWriterThreshold: 64 * 1024);
        await using var client = new TtrpcClient(clientEnd);
        var big = new BytesValue { Value = ByteString.CopyFrom(new byte[1 << 20]) };
        _ = client.UnaryAsync(Harness.Service, "Echo", big, BytesValue.Parser);
        await Bounded.UntilAsync(() => clientEnd.BytesWritten > 0, "the send loop has started writing");
        using var cts = new CancellationTokenSource();

        var stuck = client.UnaryAsync(Harness.Service, "Echo", new BytesValue(), BytesValue.Parser,
            new CallOptions(Timeout: TimeSpan.FromMilliseconds(300), CancellationToken: cts.Token));
        var cancelled = client.UnaryAsync(Harness.Service, "Echo", new BytesValue(), BytesValue.Parser,
            new CallOptions(CancellationToken: cts.Token));
        cts.CancelAfter(100);

        (await Should.ThrowAsync<TtrpcException>(cancelled.WithTimeout())).Code.ShouldBe(StatusCode.Cancelled);
        (await Should.ThrowAsync<TtrpcException>(stuck.WithTimeout())).Code
            .ShouldBeOneOf(StatusCode.Cancelled, StatusCode.DeadlineExceeded);
        peerEnd.Dispose();
    }

    [Fact]
    public async Task Losing_the_connection_fails_every_pending_call_with_Unavailable()
    {
        var (clientEnd, peerEnd) = DuplexPipe.Create();
        var client = new TtrpcClient(clientEnd);
        await using var peer = new RawPeer(peerEnd);
        var calls = Enumerable.Range(0, 5)
            .Select(_ => client.UnaryAsync(Harness.Service, "Echo", new BytesValue(), BytesValue.Parser))
            .ToArray();
        for (int i = 0; i < calls.Length; i++)
        {
            await peer.ReadFrameAsync();
        }

        peerEnd.Dispose();

        foreach (var call in calls)
        {
            var error = await Should.ThrowAsync<TtrpcException>(call.WithTimeout());
            error.Code.ShouldBe(StatusCode.Unavailable);
            error.Message.ShouldBe("ttrpc: closed");
        }

        await client.Completion.WithTimeout();
        client.CloseReason.ShouldBeOfType<EndOfStreamException>();
        (await Should.ThrowAsync<TtrpcException>(client.UnaryAsync(Harness.Service, "Echo", new BytesValue(), BytesValue.Parser)
            .WithTimeout())).Code.ShouldBe(StatusCode.Unavailable);
    }

    [Fact]
    public async Task Disposing_the_client_fails_pending_calls_and_records_no_reason()
    {
        await using var harness = Harness.Start();
        var call = harness.Client.UnaryAsync(Harness.Service, "Sleep", LongSleep, Empty.Parser);
        await Task.Delay(50);

        await harness.Client.DisposeAsync().WithTimeout();

        (await Should.ThrowAsync<TtrpcException>(call.WithTimeout())).Code.ShouldBe(StatusCode.Unavailable);
        harness.Client.CloseReason.ShouldBeNull();
        harness.Client.Completion.IsCompleted.ShouldBeTrue();
        await harness.Serving.WithTimeout();
    }

    [Fact]
    public async Task Graceful_shutdown_lets_in_flight_calls_finish_and_then_closes()
    {
        await using var harness = Harness.Start();
        var call = harness.Client.UnaryAsync(Harness.Service, "Sleep", Duration.FromTimeSpan(TimeSpan.FromMilliseconds(300)), Empty.Parser);
        await Task.Delay(50);

        await harness.Server.ShutdownAsync(new CancellationTokenSource(Bounded.Default).Token).WithTimeout();

        (await call.WithTimeout()).ShouldBe(new Empty());
        await harness.Serving.WithTimeout();
        await harness.Client.Completion.WithTimeout();
    }

    [Fact]
    public async Task Graceful_shutdown_closes_idle_connections_at_once()
    {
        await using var harness = Harness.Start();
        await harness.EchoAsync([1]).WithTimeout();

        await harness.Server.ShutdownAsync().WithTimeout();

        await harness.Client.Completion.WithTimeout();
        (await Should.ThrowAsync<TtrpcException>(harness.EchoAsync([2]).WithTimeout())).Code.ShouldBe(StatusCode.Unavailable);
    }

    [Fact]
    public async Task Shutdown_aborts_calls_still_running_at_its_deadline_and_cancels_their_handlers()
    {
        var handlerCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var harness = Harness.Start(b => b.AddUnary<Empty, Empty>("Hang", Empty.Parser, async (_, context) =>
        {
            context.CancellationToken.Register(() => handlerCancelled.TrySetResult());
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
            return new Empty();
        }));
        var call = harness.Client.UnaryAsync(Harness.Service, "Hang", new Empty(), Empty.Parser);
        await Task.Delay(50);

        await harness.Server.ShutdownAsync(new CancellationTokenSource(200).Token).WithTimeout();

        (await Should.ThrowAsync<TtrpcException>(call.WithTimeout())).Code.ShouldBe(StatusCode.Unavailable);
        await handlerCancelled.Task.WithTimeout();
    }

    [Fact]
    public async Task An_oversized_request_fails_locally_with_ResourceExhausted_before_anything_is_written()
    {
        await using var harness = Harness.Start();
        await harness.EchoAsync([1]).WithTimeout();
        long before = harness.ClientEnd.BytesWritten;

        var error = await Should.ThrowAsync<TtrpcException>(harness.EchoAsync(new byte[FrameLimits.MessageLengthMax]).WithTimeout());

        error.Code.ShouldBe(StatusCode.ResourceExhausted);
        error.Message.ShouldStartWith("message length ");
        harness.ClientEnd.BytesWritten.ShouldBe(before);
        (await harness.EchoAsync([2]).WithTimeout()).Value.Length.ShouldBe(1);
    }

    [Fact]
    public async Task An_oversized_response_becomes_ResourceExhausted_and_the_server_keeps_serving()
    {
        await using var harness = Harness.Start(b => b.AddUnary<Empty, BytesValue>("Huge", Empty.Parser,
            static (_, _) => ValueTask.FromResult(new BytesValue { Value = ByteString.CopyFrom(new byte[5 << 20]) })));

        var error = await Should.ThrowAsync<TtrpcException>(
            harness.Client.UnaryAsync(Harness.Service, "Huge", new Empty(), BytesValue.Parser).WithTimeout());

        error.Code.ShouldBe(StatusCode.ResourceExhausted);
        (await harness.EchoAsync([3]).WithTimeout()).Value.Length.ShouldBe(1);
    }

    [Fact]
    public async Task An_oversized_frame_from_the_server_fails_only_that_call()
    {
        var (clientEnd, peerEnd) = DuplexPipe.Create(pauseWriterThreshold: 16 << 20);
        await using var client = new TtrpcClient(clientEnd);
        await using var peer = new RawPeer(peerEnd);
        var first = client.UnaryAsync(Harness.Service, "Echo", new BytesValue(), BytesValue.Parser);
        var second = client.UnaryAsync(Harness.Service, "Echo", new BytesValue(), BytesValue.Parser);
        await peer.ReadFrameAsync();
        await peer.ReadFrameAsync();

        await peer.SendAsync(RawPeer.Frame(1, MessageType.Response, FrameFlags.None, new byte[FrameLimits.MessageLengthMax + 10]));
        await peer.SendAsync(RawPeer.Frame(3, MessageType.Response, FrameFlags.None, []));

        var error = await Should.ThrowAsync<TtrpcException>(first.WithTimeout());
        error.Code.ShouldBe(StatusCode.ResourceExhausted);
        error.Message.ShouldBe("message length 4194314 exceed maximum message size of 4194304");
        (await second.WithTimeout()).ShouldBe(new BytesValue());
    }

    [Fact]
    public async Task A_response_for_an_unknown_stream_is_dropped_and_the_connection_lives()
    {
        var (clientEnd, peerEnd) = DuplexPipe.Create();
        await using var client = new TtrpcClient(clientEnd);
        await using var peer = new RawPeer(peerEnd);
        var call = client.UnaryAsync(Harness.Service, "Echo", new BytesValue(), BytesValue.Parser);
        await peer.ReadFrameAsync();

        await peer.SendAsync(RawPeer.Frame(99, MessageType.Response, FrameFlags.None, []));
        await peer.SendAsync(RawPeer.Frame(1, MessageType.Response, FrameFlags.None, []));

        (await call.WithTimeout()).ShouldBe(new BytesValue());
    }

    [Fact]
    public async Task Client_stream_ids_are_odd_and_strictly_increasing_under_concurrency()
    {
        var (clientEnd, peerEnd) = DuplexPipe.Create();
        await using var client = new TtrpcClient(clientEnd);
        await using var peer = new RawPeer(peerEnd);

        var calls = Enumerable.Range(0, 200).Select(_ => Task.Run(() =>
            client.UnaryAsync(Harness.Service, "Echo", new BytesValue(), BytesValue.Parser))).ToArray();
        uint previous = 0;
        for (int i = 0; i < calls.Length; i++)
        {
            var frame = await peer.ReadFrameAsync();
            uint id = frame!.Value.Header.StreamId;
            id.ShouldBe(previous + 2 - (previous == 0 ? 1u : 0u));
            previous = id;
            await peer.SendAsync(RawPeer.Frame(id, MessageType.Response, FrameFlags.None, []));
        }

        await Task.WhenAll(calls).WithTimeout();
    }
}
