using Cc.Ttrpc;

namespace Cc.Integration.Ttrpc;

/// <summary>Our client's cancellation and connection loss against the Go server: ttrpc has no cancel
/// message, so both are decided on our side and must leave no call hanging.</summary>
public sealed class CSharpClientLifetimeTests(GoServersFixture go) : IClassFixture<GoServersFixture>
{
    public static TheoryData<string> Versions => [GoPeer.V11, GoPeer.V12];

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task A_Go_server_stopping_gracefully_answers_a_pending_call_with_Cancelled(string version)
    {
        var dir = Directory.CreateTempSubdirectory("cc-ttrpc-stop-");
        try
        {
            var address = $"unix://{dir.FullName}/peer.sock";
            var server = await GoPeer.StartServerAsync(version, address);
            await using var client = await Interop.ConnectAsync(address);
            var pending = client.CallAsync("Sleep", "30s");
            (await client.CallAsync("Echo", "up")).Value.ToStringUtf8().ShouldBe("up");

            // The peer's stop cancels the Serve context, which cancels in-flight handlers' contexts.
            await server.DisposeAsync();

            var error = await Should.ThrowAsync<TtrpcException>(() => pending);
            error.Code.ShouldBe(StatusCode.Cancelled);
            await client.Completion.WaitAsync(Interop.Timeout);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task A_cancelled_call_fails_with_Cancelled_and_the_connection_stays_usable(string version)
    {
        await using var client = await Interop.ConnectAsync(go.Address(version));
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        var error = await Should.ThrowAsync<TtrpcException>(() => client.CallAsync("Sleep", "10s", new CallOptions(CancellationToken: cancel.Token)));

        error.Code.ShouldBe(StatusCode.Cancelled);
        (await client.CallAsync("Echo", "after")).Value.ToStringUtf8().ShouldBe("after");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task A_pending_call_fails_with_Unavailable_when_the_Go_server_dies(string version)
    {
        var dir = Directory.CreateTempSubdirectory("cc-ttrpc-gone-");
        try
        {
            var address = $"unix://{dir.FullName}/peer.sock";
            await using var server = await GoPeer.StartServerAsync(version, address);
            await using var client = await Interop.ConnectAsync(address);
            var pending = client.CallAsync("Sleep", "30s");
            (await client.CallAsync("Echo", "up")).Value.ToStringUtf8().ShouldBe("up");

            // Killed, not stopped: a graceful Go server would first answer the Sleep with Cancelled.
            await server.KillAsync();

            var error = await Should.ThrowAsync<TtrpcException>(() => pending);
            error.Code.ShouldBe(StatusCode.Unavailable);
            await client.Completion.WaitAsync(Interop.Timeout);
            var after = await Should.ThrowAsync<TtrpcException>(() => client.CallAsync("Echo", "down"));
            after.Code.ShouldBe(StatusCode.Unavailable);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
