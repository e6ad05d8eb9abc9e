using System.Diagnostics;
using Cc.Agent.Protocol;
using Cc.Shim.Sandbox;
using Cc.Shim.Tests.Fakes;
using Cc.TestKit;
using Cc.Ttrpc;

namespace Cc.Shim.Tests;

/// <summary>
/// Deadlines at the agent-client seam: <see cref="AgentGuest"/> over a real ttrpc connection to an agent that never
/// answers. Each request-scoped call must fail with DeadlineExceeded in bounded time, having sent its deadline on the
/// wire (the agent sees it and its handler is cancelled).
/// </summary>
// IAsyncLifetime, not IAsyncDisposable: xunit 2 never calls a test class's DisposeAsync(), so the temporary
// directory, the server and the client would outlive every test.
public sealed class AgentDeadlineTests : IAsyncLifetime
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(300);
    private static readonly AgentDeadlines ShortDeadlines = new()
    {
        Create = Short, Start = Short, Kill = Short, Delete = Short, Other = Short,
        SandboxSetup = Short, SandboxStop = Short, Clock = Short, Hotplug = Short,
    };

    private readonly HungAgent _agent = new();
    private AgentOverSocket? _served;

    private async Task<AgentGuest> ConnectAsync(AgentDeadlines deadlines)
    {
        (_served, var guest) = await AgentOverSocket.StartAsync(_agent, deadlines);
        return guest;
    }

    public static TheoryData<string, string> Calls => new()
    {
        { "create", "CreateContainer" },
        { "start", "StartContainer" },
        { "exec", "ExecProcess" },
        { "kill", "SignalProcess" },
        { "delete", "RemoveContainer" },
        { "pause", "PauseContainer" },
        { "stats", "StatsContainer" },
        // The VM's own calls (QemuVmLauncher): the same path, their own kinds.
        { "create-sandbox", "CreateSandbox" },
        { "set-time", "SetTime" },
        { "online-cpus", "OnlineCpus" },
        { "destroy-sandbox", "DestroySandbox" },
    };

    [Theory]
    [MemberData(nameof(Calls))]
    public async Task A_call_to_a_hung_agent_fails_with_DeadlineExceeded_and_the_agent_saw_its_deadline(string call, string method)
    {
        var guest = await ConnectAsync(ShortDeadlines);
        var clock = Stopwatch.StartNew();

        var error = await Should.ThrowAsync<TtrpcException>(Invoke(guest, call).WithTimeout());

        error.Code.ShouldBe(StatusCode.DeadlineExceeded);
        clock.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(5), "bounded by the 300 ms deadline, not by the agent");
        await _agent.CancelledOf(method).Task.WithTimeout(); // the agent honoured timeout_nano: its work was cancelled
        _agent.Deadlines[method].ShouldNotBeNull($"{method} carried timeout_nano");
    }

    [Fact]
    public async Task The_callers_earlier_deadline_wins_over_the_configured_one()
    {
        var guest = await ConnectAsync(AgentDeadlines.Default); // Start: 30 s
        var clock = Stopwatch.StartNew();

        var call = Task.Run(() =>
        {
            CallerDeadline.Set(DateTimeOffset.UtcNow + Short);
            return guest.StartAsync(new ProcessKey("c1", ""), CancellationToken.None);
        });
        var error = await Should.ThrowAsync<TtrpcException>(call.WithTimeout());

        error.Code.ShouldBe(StatusCode.DeadlineExceeded);
        clock.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(5));
        var sent = _agent.Deadlines["StartContainer"].ShouldNotBeNull();
        (sent - DateTimeOffset.UtcNow).ShouldBeLessThan(TimeSpan.FromSeconds(5), "the wire carried containerd's deadline, not 30 s");
    }

    [Fact]
    public async Task Containerds_deadline_reaches_the_guest_calls_of_its_Task_call_but_not_the_watches_the_call_starts()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateAsync("c1");

        await shim.Tasks.StartAsync(new Cc.Containerd.Protocol.Tasks.StartRequest { Id = "c1" },
            new CallOptions(TimeSpan.FromSeconds(20))).WithTimeout();
        await shim.Vm.WaitArrived.Task.WithTimeout();

        var start = shim.Vm.CallerDeadlines["start"].ShouldNotBeNull("Start's guest call carries containerd's deadline");
        (start - DateTimeOffset.UtcNow).ShouldBeInRange(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(20));
        shim.Vm.CallerDeadlines["wait"].ShouldBeNull("the exit watch outlives the Start call and must not inherit its deadline");
    }

    [Fact]
    public async Task Without_a_caller_deadline_the_configured_one_goes_on_the_wire()
    {
        var guest = await ConnectAsync(AgentDeadlines.Default with { Kill = TimeSpan.FromSeconds(42) });

        var call = guest.SignalAsync(new ProcessKey("c1", ""), 9, false, CancellationToken.None);
        await Bounded.UntilAsync(() => _agent.Deadlines.ContainsKey("SignalProcess"), "the signal reached the agent");

        var left = _agent.Deadlines["SignalProcess"].ShouldNotBeNull() - DateTimeOffset.UtcNow;
        left.ShouldBeInRange(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(42));
        await _served!.DisconnectAsync(); // ends the call without waiting 42 s
        await Should.ThrowAsync<Exception>(call.WithTimeout());
    }

    /// <summary>
    /// The deadlines the launcher's calls had before they went through <see cref="AgentGuest.CallAsync{TResponse}"/>
    /// (10 s, 5 s, 30 + 5 s, 2 s) are what they send now, when no caller's deadline is earlier.
    /// </summary>
    [Theory]
    [InlineData("create-sandbox", "CreateSandbox", 10)]
    [InlineData("set-time", "SetTime", 5)]
    [InlineData("online-cpus", "OnlineCpus", 35)]
    [InlineData("destroy-sandbox", "DestroySandbox", 2)]
    public async Task A_launcher_call_sends_its_own_default_deadline(string call, string method, int seconds)
    {
        var guest = await ConnectAsync(AgentDeadlines.Default);

        var pending = Invoke(guest, call);
        await Bounded.UntilAsync(() => _agent.Deadlines.ContainsKey(method), $"{method} reached the agent");

        var left = _agent.Deadlines[method].ShouldNotBeNull($"{method} carried timeout_nano") - DateTimeOffset.UtcNow;
        left.ShouldBeInRange(TimeSpan.FromSeconds(seconds) - TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(seconds));
        await _served!.DisconnectAsync(); // ends the call without waiting it out
        await Should.ThrowAsync<Exception>(pending.WithTimeout());
    }

    [Fact]
    public async Task A_long_poll_carries_no_deadline()
    {
        var guest = await ConnectAsync(ShortDeadlines);
        using var stop = new CancellationTokenSource();

        var oom = guest.WaitForOomAsync(stop.Token);
        await Bounded.UntilAsync(() => _agent.Deadlines.ContainsKey("GetOomEvent"), "the long-poll reached the agent");

        _agent.Deadlines["GetOomEvent"].ShouldBeNull();
        oom.IsCompleted.ShouldBeFalse();
        await stop.CancelAsync();
        (await Should.ThrowAsync<TtrpcException>(oom.WithTimeout())).Code.ShouldBe(StatusCode.Cancelled, "only the caller ends it");
    }

    private static Task Invoke(AgentGuest guest, string call) => call switch
    {
        "create" => guest.CreateContainerAsync("c1", "{}"u8.ToArray(), "/rootfs", StdioSpec.None, PodMembership.Standalone, CancellationToken.None),
        "start" => guest.StartAsync(new ProcessKey("c1", ""), CancellationToken.None),
        "exec" => ExecAsync(guest),
        "kill" => guest.SignalAsync(new ProcessKey("c1", ""), 9, true, CancellationToken.None),
        "delete" => guest.RemoveContainerAsync("c1", CancellationToken.None),
        "pause" => guest.PauseAsync("c1", CancellationToken.None),
        "stats" => guest.StatsAsync("c1", CancellationToken.None),
        "create-sandbox" => guest.CreateSandboxAsync(new Cc.Agent.Protocol.V1.CreateSandboxRequest { SandboxId = "sb" }, CancellationToken.None),
        "set-time" => guest.SetTimeAsync(DateTimeOffset.UtcNow, CancellationToken.None),
        "online-cpus" => guest.OnlineCpusAsync(2, CancellationToken.None),
        "destroy-sandbox" => guest.DestroySandboxAsync(CancellationToken.None),
        _ => throw new ArgumentOutOfRangeException(nameof(call)),
    };

    [Fact]
    public async Task A_forgotten_exec_is_no_longer_stored_and_its_start_is_NotFound_without_a_guest_call()
    {
        var guest = await ConnectAsync(ShortDeadlines);
        var key = new ProcessKey("c1", "e1");
        await guest.ExecAsync(new ExecRequest("c1", "e1", StdioSpec.None, "{}"u8.ToArray()), CancellationToken.None);

        guest.ForgetExec(key);
        guest.ForgetExec(key); // idempotent

        var error = await Should.ThrowAsync<NotFoundException>(guest.StartAsync(key, CancellationToken.None).WithTimeout());
        error.Message.ShouldContain("not registered");
    }

    private static async Task ExecAsync(AgentGuest guest)
    {
        await guest.ExecAsync(new ExecRequest("c1", "e1", StdioSpec.None, "{}"u8.ToArray()), CancellationToken.None);
        await guest.StartAsync(new ProcessKey("c1", "e1"), CancellationToken.None);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_served is not null)
        {
            await _served.DisposeAsync();
        }
    }
}
