using Cc.Bench.Ttrpc;
using Cc.Ttrpc;

namespace Cc.Integration.Ttrpc;

/// <summary>Our client against the Go reference server, ttrpc 1.1 (containerd 1.6) and 1.2 (1.7, 2.x).</summary>
public sealed class CSharpClientToGoServerTests(GoServersFixture go) : IClassFixture<GoServersFixture>
{
    public static TheoryData<string> Versions => [GoPeer.V11, GoPeer.V12];

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task A_unary_call_returns_the_payload_the_Go_server_echoes(string version)
    {
        await using var client = await Interop.ConnectAsync(go.Address(version));

        var response = await client.CallAsync("Echo", "hello from C#");

        response.Value.ToStringUtf8().ShouldBe("hello from C#");
    }

    [Theory]
    [InlineData(GoPeer.V11, StatusCode.NotFound, "container c1: not found")]
    [InlineData(GoPeer.V11, StatusCode.FailedPrecondition, "task must be stopped")]
    [InlineData(GoPeer.V12, StatusCode.AlreadyExists, "id c1: already exists")]
    [InlineData(GoPeer.V12, StatusCode.Unauthenticated, "ünïcode message ✓")]
    public async Task A_Go_error_status_arrives_with_its_code_and_message(string version, StatusCode code, string message)
    {
        await using var client = await Interop.ConnectAsync(go.Address(version));

        var error = await Should.ThrowAsync<TtrpcException>(() => client.CallAsync("Fail", $"{(int)code}:{message}"));

        error.Code.ShouldBe(code);
        error.Message.ShouldBe(message);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Call_metadata_and_default_metadata_reach_the_Go_server_in_order(string version)
    {
        var defaults = new Metadata { { "containerd-namespace-ttrpc", "k8s.io" } };
        await using var client = await Interop.ConnectAsync(go.Address(version), new TtrpcClientOptions { DefaultMetadata = defaults });
        var metadata = new Metadata { { "a", "1" }, { "b", "2" }, { "a", "3" } };

        var seen = await client.CallAsync("Metadata", "", new CallOptions(Metadata: metadata));

        seen.Value.ToStringUtf8().ShouldBe("a=1\na=3\nb=2\ncontainerd-namespace-ttrpc=k8s.io\n");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task The_timeout_travels_as_timeout_nano_and_the_Go_handler_gets_that_deadline(string version)
    {
        await using var client = await Interop.ConnectAsync(go.Address(version));

        var withTimeout = await client.CallAsync("Deadline", "", new CallOptions(Timeout: TimeSpan.FromSeconds(5)));
        var without = await client.CallAsync("Deadline", "");

        var remaining = TimeSpan.FromTicks(long.Parse(withTimeout.Value.ToStringUtf8(), System.Globalization.CultureInfo.InvariantCulture) / 100);
        remaining.ShouldBeInRange(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(5));
        without.Value.ToStringUtf8().ShouldBe("none");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task A_call_past_its_timeout_fails_with_DeadlineExceeded_and_the_Go_server_stops_the_handler(string version)
    {
        await using var client = await Interop.ConnectAsync(go.Address(version));
        var started = DateTime.UtcNow;

        var error = await Should.ThrowAsync<TtrpcException>(() => client.CallAsync("Sleep", "10s", new CallOptions(Timeout: TimeSpan.FromMilliseconds(300))));

        error.Code.ShouldBe(StatusCode.DeadlineExceeded);
        (DateTime.UtcNow - started).ShouldBeLessThan(TimeSpan.FromSeconds(5));
        var outcome = await Interop.EventuallyAsync(
            async () => (await client.CallAsync("SleepResult", "")).Value.ToStringUtf8(), o => o.StartsWith("deadline-exceeded", StringComparison.Ordinal));
        outcome.ShouldStartWith("deadline-exceeded");
        (await client.CallAsync("Echo", "still usable")).Value.ToStringUtf8().ShouldBe("still usable");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Sixty_four_concurrent_callers_on_one_connection_each_get_their_own_answer(string version)
    {
        // Against 1.2 this also checks that racing callers put strictly increasing stream ids on the wire:
        // that server answers a lower or reused id with InvalidArgument instead of the echo.
        await using var client = await Interop.ConnectAsync(go.Address(version));

        var callers = Enumerable.Range(0, 64).Select(caller => Task.Run(async () =>
        {
            var mismatches = 0;
            for (var call = 0; call < 20; call++)
            {
                var text = $"caller {caller} call {call}";
                var response = await client.CallAsync("Echo", text);
                mismatches += response.Value.ToStringUtf8() == text ? 0 : 1;
            }

            return mismatches;
        }));

        var mismatched = await Task.WhenAll(callers).WaitAsync(TimeSpan.FromSeconds(60));
        mismatched.Sum().ShouldBe(0);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task A_one_MiB_payload_round_trips_intact(string version)
    {
        await using var client = await Interop.ConnectAsync(go.Address(version));
        var payload = EchoService.Pattern(1 << 20);

        var response = await client.CallAsync("Echo", Interop.Bytes(payload));

        response.Value.Span.SequenceEqual(payload).ShouldBeTrue();
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task An_oversize_request_fails_with_ResourceExhausted_and_the_connection_stays_usable(string version)
    {
        await using var client = await Interop.ConnectAsync(go.Address(version));

        var error = await Should.ThrowAsync<TtrpcException>(() => client.CallAsync("Echo", Interop.Bytes(new byte[5 << 20])));

        error.Code.ShouldBe(StatusCode.ResourceExhausted);
        (await client.CallAsync("Echo", "after")).Value.ToStringUtf8().ShouldBe("after");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task An_oversize_response_from_Go_fails_only_that_call(string version)
    {
        await using var client = await Interop.ConnectAsync(go.Address(version));

        var error = await Should.ThrowAsync<TtrpcException>(() => client.CallAsync("Big", "5000000"));

        error.Code.ShouldBe(StatusCode.ResourceExhausted);
        (await client.CallAsync("Echo", "after")).Value.ToStringUtf8().ShouldBe("after");
        (await client.CallAsync("Big", "4000000")).Value.Length.ShouldBe(4000000);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task An_unknown_method_or_service_is_Unimplemented(string version)
    {
        await using var client = await Interop.ConnectAsync(go.Address(version));

        var method = await Should.ThrowAsync<TtrpcException>(() => client.CallAsync("Nope", ""));
        var service = await Should.ThrowAsync<TtrpcException>(() =>
            client.UnaryAsync<Google.Protobuf.WellKnownTypes.BytesValue, Google.Protobuf.WellKnownTypes.BytesValue>(
                "cc.test.v1.Missing", "Echo", Interop.Bytes(""), Google.Protobuf.WellKnownTypes.BytesValue.Parser).WaitAsync(Interop.Timeout));

        method.Code.ShouldBe(StatusCode.Unimplemented);
        method.Message.ShouldBe("method Nope");
        service.Code.ShouldBe(StatusCode.Unimplemented);
        service.Message.ShouldBe("service cc.test.v1.Missing");
    }
}
