using Cc.TestKit;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Ttrpc.Tests;

/// <summary>Deadlines run on the injected TimeProvider on both sides, not on the wall clock.</summary>
public sealed class DeadlineClockTests
{
    [Fact]
    public async Task The_server_cancels_a_handler_exactly_when_its_TimeProvider_reaches_timeout_nano()
    {
        var clock = new ManualTimeProvider();
        var started = new TaskCompletionSource<ServerCallContext>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var harness = Harness.Start(
            b => b.AddUnary<Empty, Empty>("Hang", Empty.Parser, async (_, context) =>
            {
                started.TrySetResult(context);
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
                return new Empty();
            }),
            serverOptions: new TtrpcServerOptions { TimeProvider = clock });

        var call = harness.Client.UnaryAsync(Harness.Service, "Hang", new Empty(), Empty.Parser,
            new CallOptions(Timeout: TimeSpan.FromHours(2)));
        var context = await started.Task.WithTimeout();

        context.Deadline.ShouldBe(clock.GetUtcNow() + TimeSpan.FromHours(2));
        clock.Advance(TimeSpan.FromMinutes(119));
        await Task.Delay(50);
        context.CancellationToken.IsCancellationRequested.ShouldBeFalse();
        call.IsCompleted.ShouldBeFalse();

        clock.Advance(TimeSpan.FromMinutes(1));

        context.CancellationToken.IsCancellationRequested.ShouldBeTrue();
        var error = await Should.ThrowAsync<TtrpcException>(call.WithTimeout());
        error.Code.ShouldBe(StatusCode.DeadlineExceeded);
        error.Message.ShouldBe("context deadline exceeded");
    }

    [Fact]
    public async Task The_client_fails_a_call_locally_when_its_TimeProvider_reaches_the_timeout()
    {
        var clock = new ManualTimeProvider();
        var (clientEnd, peerEnd) = DuplexPipe.Create();
        await using var client = new TtrpcClient(clientEnd, new TtrpcClientOptions { TimeProvider = clock });
        await using var peer = new RawPeer(peerEnd); // never answers

        var call = client.UnaryAsync(Harness.Service, "Echo", new BytesValue(), BytesValue.Parser,
            new CallOptions(Timeout: TimeSpan.FromSeconds(30)));
        var frame = await peer.ReadFrameAsync();
        Wire.Request.Parser.ParseFrom(frame!.Value.Body).TimeoutNano.ShouldBe(30_000_000_000);
        await Task.Delay(50);
        call.IsCompleted.ShouldBeFalse();

        clock.Advance(TimeSpan.FromSeconds(30));

        (await Should.ThrowAsync<TtrpcException>(call.WithTimeout())).Code.ShouldBe(StatusCode.DeadlineExceeded);
        clock.ActiveTimers.ShouldBe(0);
    }

    [Fact]
    public async Task A_completed_call_leaves_no_timer_behind()
    {
        var clock = new ManualTimeProvider();
        await using var harness = Harness.Start(clientOptions: new TtrpcClientOptions { TimeProvider = clock },
            serverOptions: new TtrpcServerOptions { TimeProvider = clock });

        await harness.Client.UnaryAsync(Harness.Service, "Echo", new BytesValue { Value = ByteString.CopyFrom(1) }, BytesValue.Parser,
            new CallOptions(Timeout: TimeSpan.FromSeconds(5))).WithTimeout();

        await Bounded.UntilAsync(() => clock.ActiveTimers == 0, "the client and server timers are disposed");
    }
}
