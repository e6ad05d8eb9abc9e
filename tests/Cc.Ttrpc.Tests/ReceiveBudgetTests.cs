using Cc.TestKit;
using Cc.Ttrpc.Framing;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Ttrpc.Tests;

/// <summary>The bound on what a server connection holds of its peer's messages (ReceiveBudget).</summary>
public sealed class ReceiveBudgetTests
{
    private const int Size = 3 << 20; // three of these exceed the bound (two largest frames)

    [Fact]
    public async Task Waiting_for_room_ends_once_the_held_bytes_drop_below_the_bound()
    {
        var budget = new ReceiveBudget();
        budget.Take(ReceiveBudget.Limit);
        budget.IsExhausted.ShouldBeTrue();

        var wait = budget.WaitForRoomAsync(CancellationToken.None).AsTask();
        wait.IsCompleted.ShouldBeFalse();
        budget.Release(1);

        await wait.WithTimeout();
        budget.Held.ShouldBe(ReceiveBudget.Limit - 1);
        await budget.WaitForRoomAsync(CancellationToken.None).WithTimeout(); // below the bound: at once
    }

    [Fact]
    public async Task A_connection_stops_reading_while_unfinished_requests_hold_more_than_the_bound_and_resumes_after()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var paused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int started = 0;
        await using var harness = Harness.Start(b => b.AddUnary<BytesValue, Int32Value>("Hold", BytesValue.Parser, async (request, context) =>
        {
            Interlocked.Increment(ref started);
            await gate.Task.WaitAsync(context.CancellationToken);
            return new Int32Value { Value = request.Value.Length };
        }));
        harness.Server.ReceivePaused = () => paused.TrySetResult();

        var calls = Enumerable.Range(0, 6).Select(_ => harness.Client.UnaryAsync(Harness.Service, "Hold",
            new BytesValue { Value = ByteString.CopyFrom(new byte[Size]) }, Int32Value.Parser)).ToArray();

        await paused.Task.WithTimeout(TimeSpan.FromSeconds(30));
        // The third request took the connection past the bound; the fourth was not parsed, so no later handler ran.
        Volatile.Read(ref started).ShouldBeLessThanOrEqualTo(3);
        calls.ShouldAllBe(c => !c.IsCompleted);

        gate.SetResult();
        var replies = await Task.WhenAll(calls).WithTimeout(TimeSpan.FromSeconds(60));
        replies.ShouldAllBe(r => r.Value == Size);
        started.ShouldBe(6);
    }

    [Fact]
    public async Task Streamed_messages_a_handler_has_not_read_count_against_the_bound_until_it_reads_them()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var paused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var harness = Harness.Start(b => b.AddClientStreaming<BytesValue, Int32Value>("Sum", BytesValue.Parser,
            async (reader, context) =>
            {
                await gate.Task.WaitAsync(context.CancellationToken);
                int total = 0;
                await foreach (var message in reader.ReadAllAsync(context.CancellationToken))
                {
                    total += message.Value.Length;
                }

                return new Int32Value { Value = total };
            }));
        harness.Server.ReceivePaused = () => paused.TrySetResult();

        using var call = harness.Client.ClientStreaming<BytesValue, Int32Value>(Harness.Service, "Sum", Int32Value.Parser);
        var sending = Task.Run(async () =>
        {
            for (int i = 0; i < 4; i++)
            {
                await call.RequestStream.WriteAsync(new BytesValue { Value = ByteString.CopyFrom(new byte[Size]) });
            }

            await call.RequestStream.CompleteAsync();
        });

        await paused.Task.WithTimeout(TimeSpan.FromSeconds(30));
        call.ResponseAsync.IsCompleted.ShouldBeFalse();

        gate.SetResult();
        (await call.ResponseAsync.WithTimeout(TimeSpan.FromSeconds(60))).Value.ShouldBe(4 * Size);
        await sending.WithTimeout();
    }
}
