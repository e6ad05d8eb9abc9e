using Cc.Bench.Ttrpc;
using Cc.Ttrpc;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Integration.Ttrpc;

/// <summary>Our server's graceful shutdown as a Go client sees it (each test has a server of its own).</summary>
public sealed class GoClientLifetimeTests
{
    public static TheoryData<string> Versions => [GoPeer.V11, GoPeer.V12];

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Graceful_shutdown_lets_an_in_flight_Go_call_finish_and_then_refuses_new_ones(string version)
    {
        // Built before anything is timed: on a fresh clone the first test to ask builds the Go peer, which can take
        // longer than the wait for the call to arrive below.
        await GoPeer.PathAsync(version);
        var dir = Directory.CreateTempSubdirectory("cc-ttrpc-shutdown-");
        try
        {
            var address = $"unix://{dir.FullName}/ours.sock";
            // Sleep here tells the test when the Go call has reached it, so the shutdown surely overlaps it.
            var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var server = new TtrpcServer();
            server.Register(ServiceDefinition.CreateBuilder(EchoService.Name)
                .AddUnary<BytesValue, BytesValue>("Echo", BytesValue.Parser, static (request, _) => ValueTask.FromResult(request))
                .AddUnary<BytesValue, BytesValue>("Sleep", BytesValue.Parser, async (_, _) =>
                {
                    entered.TrySetResult();
                    await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None);
                    return EchoService.Text("slept");
                })
                .Build());
            using var stop = new CancellationTokenSource();
            var serving = server.ServeAsync(address, stop.Token);
            await WaitUntilServingAsync(address);

            var inFlight = GoPeer.RunClientAsync(version, address, "-method", "Sleep", "-payload", "1s");
            // A client that fails before its call arrives fails the test with its own error, not with a timeout.
            await Task.WhenAny(entered.Task, inFlight).WaitAsync(Interop.Timeout);
            if (!entered.Task.IsCompleted)
            {
                await inFlight;
                throw new ShouldAssertException("the Go client ended before its Sleep call reached the server");
            }
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await server.ShutdownAsync(deadline.Token).WaitAsync(Interop.Timeout);

            var result = await inFlight;
            result.GetProperty("code").GetInt32().ShouldBe(0, result.ToString());
            result.GetProperty("payload").GetString().ShouldBe("slept");
            var late = await GoPeer.RunClientProcessAsync(version, address, "-method", "Echo", "-payload", "late");
            late.ExitCode.ShouldBe(2, late.Stdout);
            late.Stderr.ShouldContain("connect");
            await serving.WaitAsync(Interop.Timeout).ContinueWith(static _ => { }, TaskScheduler.Default);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static async Task WaitUntilServingAsync(string address)
    {
        var deadline = DateTime.UtcNow + Interop.Timeout;
        while (true)
        {
            try
            {
                await using var client = await Interop.ConnectAsync(address);
                await client.CallAsync("Echo", "ready");
                return;
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or TtrpcException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
        }
    }
}
