using System.Collections.Concurrent;
using Cc.TestKit;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Ttrpc.Tests;

/// <summary>The client's call observer (the shim's agent-call metrics): told once per unary call, with its status and duration.</summary>
public sealed class CallObserverTests
{
    [Fact]
    public async Task Each_unary_call_is_observed_once_with_its_method_status_and_duration_whether_it_answered_or_failed()
    {
        var observed = new ConcurrentQueue<(string Service, string Method, StatusCode Code, TimeSpan Elapsed)>();
        await using var harness = Harness.Start(clientOptions: new TtrpcClientOptions
        {
            CallObserver = (service, method, code, elapsed) => observed.Enqueue((service, method, code, elapsed)),
        });

        await harness.EchoAsync([1]).WithTimeout();
        await Should.ThrowAsync<TtrpcException>(harness.Client.UnaryAsync(Harness.Service, "Fail",
            new StringValue { Value = "no" }, StringValue.Parser).WithTimeout());
        await Should.ThrowAsync<TtrpcException>(harness.Client.UnaryAsync(Harness.Service, "Sleep",
            Duration.FromTimeSpan(TimeSpan.FromSeconds(30)), Empty.Parser, new CallOptions(TimeSpan.FromMilliseconds(200))).WithTimeout());

        observed.Select(o => (o.Service, o.Method, o.Code)).ShouldBe([
            (Harness.Service, "Echo", StatusCode.Ok),
            (Harness.Service, "Fail", StatusCode.Unknown),
            (Harness.Service, "Sleep", StatusCode.DeadlineExceeded),
        ]);
        observed.Last().Elapsed.ShouldBeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(150));
    }
}
