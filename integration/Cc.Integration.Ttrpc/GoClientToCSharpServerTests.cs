using System.Text.Json;

namespace Cc.Integration.Ttrpc;

/// <summary>The Go reference client, ttrpc 1.1 and 1.2, against our server (in this process).</summary>
public sealed class GoClientToCSharpServerTests(CSharpServerFixture ours) : IClassFixture<CSharpServerFixture>
{
    public static TheoryData<string> Versions => [GoPeer.V11, GoPeer.V12];

    private Task<JsonElement> GoAsync(string version, params string[] arguments) => GoPeer.RunClientAsync(version, ours.Address, arguments);

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task A_Go_unary_call_gets_its_payload_back(string version)
    {
        var result = await GoAsync(version, "-method", "Echo", "-payload", "hello from Go");

        result.GetProperty("code").GetInt32().ShouldBe(0, result.ToString());
        result.GetProperty("payload").GetString().ShouldBe("hello from Go");
    }

    [Theory]
    [InlineData(GoPeer.V11, 5, "container c1: not found")]
    [InlineData(GoPeer.V11, 13, "internal: a:b:c")]
    [InlineData(GoPeer.V12, 9, "task must be stopped")]
    [InlineData(GoPeer.V12, 16, "ünïcode message ✓")]
    public async Task Our_error_status_reaches_Go_with_its_code_and_message(string version, int code, string message)
    {
        var result = await GoAsync(version, "-method", "Fail", "-payload", $"{code}:{message}");

        result.GetProperty("code").GetInt32().ShouldBe(code, result.ToString());
        result.GetProperty("message").GetString().ShouldBe(message);
        result.TryGetProperty("local", out _).ShouldBeFalse("the status must come from our server, not the Go client");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Go_call_metadata_reaches_our_handler_with_every_value(string version)
    {
        var result = await GoAsync(version, "-method", "Metadata", "-md", "containerd-namespace-ttrpc=k8s.io", "-md", "a=1", "-md", "a=2");

        result.GetProperty("payload").GetString().ShouldBe("a=1\na=2\ncontainerd-namespace-ttrpc=k8s.io\n");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task The_Go_timeout_nano_becomes_our_handler_deadline(string version)
    {
        var with = await GoAsync(version, "-method", "Deadline", "-timeout", "5s");
        var without = await GoAsync(version, "-method", "Deadline");

        var remaining = TimeSpan.FromTicks(long.Parse(with.GetProperty("payload").GetString()!, System.Globalization.CultureInfo.InvariantCulture) / 100);
        remaining.ShouldBeInRange(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(5));
        without.GetProperty("payload").GetString().ShouldBe("none");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Our_handler_is_cancelled_at_the_deadline_Go_sent(string version)
    {
        // -linger keeps the Go connection open after its own timer fires, so what ends our handler is the
        // deadline from timeout_nano, not the connection closing.
        ours.Service.ResetLastSleep();
        var result = await GoAsync(version, "-method", "Sleep", "-payload", "10s", "-timeout", "300ms", "-linger", "1500ms");

        result.GetProperty("code").GetInt32().ShouldBe(4, result.ToString());
        var outcome = await Interop.EventuallyAsync(() => Task.FromResult(ours.Service.LastSleep), o => o.Length > 0);
        outcome.ShouldStartWith("deadline-exceeded");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Sixty_four_concurrent_Go_callers_on_one_connection_each_get_their_own_answer(string version)
    {
        var result = await GoAsync(version, "-workload", "concurrent", "-concurrency", "64", "-count", "20", "-size", "64");

        result.GetProperty("succeeded").GetInt32().ShouldBe(1280, result.ToString());
        result.GetProperty("mismatched").GetInt32().ShouldBe(0);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task One_MiB_payloads_from_Go_round_trip_intact(string version)
    {
        var result = await GoAsync(version, "-workload", "concurrent", "-concurrency", "2", "-count", "3", "-size", "1048576");

        result.GetProperty("succeeded").GetInt32().ShouldBe(6, result.ToString());
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task An_oversize_Go_request_is_rejected_with_ResourceExhausted_and_the_connection_stays_usable(string version)
    {
        // Neither Go version checks the size before sending (that came in 1.2.6): our server must.
        var result = await GoAsync(version, "-workload", "oversize", "-size", "5000000");

        var oversize = result.GetProperty("oversize");
        oversize.GetProperty("code").GetInt32().ShouldBe(8, result.ToString());
        (oversize.GetProperty("message").GetString() ?? "").ShouldContain("4194304");
        result.GetProperty("after").GetProperty("payload").GetString().ShouldBe("after", result.ToString());
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task An_unknown_method_or_service_is_Unimplemented_for_Go(string version)
    {
        var method = await GoAsync(version, "-method", "Nope");
        var service = await GoAsync(version, "-service", "cc.test.v1.Missing", "-method", "Echo");

        method.GetProperty("code").GetInt32().ShouldBe(12);
        method.GetProperty("message").GetString().ShouldBe("method Nope");
        service.GetProperty("code").GetInt32().ShouldBe(12);
        service.GetProperty("message").GetString().ShouldBe("service cc.test.v1.Missing");
    }

    [Fact]
    public async Task A_Go_server_stream_call_receives_every_message_from_us()
    {
        var result = await GoAsync(GoPeer.V12, "-workload", "server-stream", "-count", "5");

        result.GetProperty("code").GetInt32().ShouldBe(0, result.ToString());
        result.GetProperty("messages").EnumerateArray().Select(m => m.GetString()).ShouldBe(["0", "1", "2", "3", "4"]);
    }

    [Fact]
    public async Task A_Go_client_stream_is_answered_once_by_us_with_everything_it_sent()
    {
        var result = await GoAsync(GoPeer.V12, "-workload", "client-stream", "-count", "5");

        result.GetProperty("code").GetInt32().ShouldBe(0, result.ToString());
        result.GetProperty("payload").GetString().ShouldBe("m0,m1,m2,m3,m4");
    }

    [Fact]
    public async Task A_Go_bidirectional_stream_is_echoed_by_us_and_ends_cleanly()
    {
        var result = await GoAsync(GoPeer.V12, "-workload", "bidi", "-count", "5");

        result.GetProperty("code").GetInt32().ShouldBe(0, result.ToString());
        result.GetProperty("messages").EnumerateArray().Select(m => m.GetString()).ShouldBe(["b0", "b1", "b2", "b3", "b4"]);
    }
}
