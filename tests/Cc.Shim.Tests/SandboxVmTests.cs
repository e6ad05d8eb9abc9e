using Cc.Shim.Sandbox;
using Cc.Shim.Tests.Fakes;
using Cc.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Shim.Tests;

/// <summary>The VM's lifecycle on its own: the state table and <see cref="SandboxVm"/> over the fake launcher.</summary>
public sealed class SandboxVmTests
{
    private static readonly VmLaunchRequest Request = new("k8s.io", "pod1", "/nonexistent/run", "/nonexistent/run/shared",
        SandboxSpecParser.Parse("{}"u8, "pod1").Sandbox);

    public static TheoryData<SandboxVmState, SandboxVmState> Allowed => new()
    {
        { SandboxVmState.Empty, SandboxVmState.Booting },
        { SandboxVmState.Empty, SandboxVmState.Stopped },
        { SandboxVmState.Booting, SandboxVmState.Ready },
        { SandboxVmState.Booting, SandboxVmState.Stopped },
        { SandboxVmState.Ready, SandboxVmState.Failed },
        { SandboxVmState.Ready, SandboxVmState.Stopping },
        { SandboxVmState.Failed, SandboxVmState.Stopping },
        { SandboxVmState.Stopping, SandboxVmState.Stopped },
    };

    [Fact]
    public void The_table_allows_exactly_the_documented_moves()
    {
        var allowed = Allowed.Select(row => ((SandboxVmState)row[0], (SandboxVmState)row[1])).ToHashSet();
        foreach (var from in Enum.GetValues<SandboxVmState>())
        {
            foreach (var to in Enum.GetValues<SandboxVmState>())
            {
                SandboxVmStateMachine.Allows(from, to).ShouldBe(allowed.Contains((from, to)), $"{from} => {to}");
            }
        }
    }

    [Theory]
    [InlineData(SandboxVmState.Stopped, SandboxVmState.Booting)]
    [InlineData(SandboxVmState.Failed, SandboxVmState.Ready)]
    [InlineData(SandboxVmState.Stopping, SandboxVmState.Ready)]
    [InlineData(SandboxVmState.Empty, SandboxVmState.Ready)]
    public void A_move_the_table_lacks_is_the_one_invalid_state_transition_error(SandboxVmState from, SandboxVmState to)
    {
        var error = Should.Throw<InvalidStateTransitionException>(() => SandboxVmStateMachine.Check(from, to, "vm"));
        error.Message.ShouldStartWith($"invalid state transition: {from} => {to}");
    }

    [Fact]
    public async Task A_booted_VM_is_Ready_and_serves_guest_calls()
    {
        var engine = new FakeEngine();
        var vm = NewVm();
        await vm.BootAsync(engine, Request, _ => { }, CancellationToken.None).WithTimeout();

        vm.State.ShouldBe(SandboxVmState.Ready);
        vm.Require().ShouldBeSameAs(engine.Vm);
        vm.Pid.ShouldBe(engine.Vm!.Pid);
        vm.Ended.IsCompleted.ShouldBeFalse();
    }

    [Fact]
    public async Task A_failed_launch_ends_Stopped_with_no_failure_and_the_error_reaches_the_caller()
    {
        var engine = new FakeEngine { FailLaunch = new SandboxUnavailableException("no qemu") };
        var vm = NewVm();

        await Should.ThrowAsync<SandboxUnavailableException>(vm.BootAsync(engine, Request, _ => { }, CancellationToken.None));

        vm.State.ShouldBe(SandboxVmState.Stopped);
        (await vm.Ended.WithTimeout()).ShouldBeNull();
        Should.Throw<PreconditionFailedException>(() => vm.Require());
    }

    [Fact]
    public async Task When_the_VMM_dies_the_VM_fails_calls_fail_fast_and_the_stop_disposes_without_asking_the_guest()
    {
        var engine = new FakeEngine();
        var vm = NewVm();
        await vm.BootAsync(engine, Request, _ => { }, CancellationToken.None).WithTimeout();

        engine.Vm!.Die();
        var reason = await vm.Ended.WithTimeout();

        reason.ShouldNotBeNull().ShouldContain("VM exited");
        vm.State.ShouldBe(SandboxVmState.Failed);
        Should.Throw<PreconditionFailedException>(() => vm.Require()).Message.ShouldContain("died: the VM exited");
        await vm.StopAsync(CancellationToken.None).WithTimeout();
        vm.State.ShouldBe(SandboxVmState.Stopped);
        engine.Vm.Disposed.ShouldBeTrue();
        engine.Vm.Stopped.ShouldBeFalse("a dead VM's agent is not asked to stop");
    }

    [Fact]
    public async Task An_agent_silent_past_the_health_timeout_fails_the_VM()
    {
        var engine = new FakeEngine();
        var vm = NewVm(new SandboxVmHealth(TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1)));
        await vm.BootAsync(engine, Request, _ => { }, CancellationToken.None).WithTimeout();
        engine.Vm!.AgentSilent = true;

        var reason = await vm.Ended.WithTimeout();

        reason.ShouldNotBeNull().ShouldContain("health check within 0.2 s");
        vm.State.ShouldBe(SandboxVmState.Failed);
    }

    [Fact]
    public async Task An_answering_agent_keeps_the_VM_Ready()
    {
        var engine = new FakeEngine();
        var vm = NewVm(new SandboxVmHealth(TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1)));
        await vm.BootAsync(engine, Request, _ => { }, CancellationToken.None).WithTimeout();

        await Bounded.UntilAsync(() => Volatile.Read(ref engine.Vm!.Pings) >= 3, "three health checks were answered");

        vm.State.ShouldBe(SandboxVmState.Ready);
    }

    [Fact]
    public async Task A_requested_stop_ends_every_watcher_and_is_not_a_failure()
    {
        var engine = new FakeEngine();
        var vm = NewVm();
        await vm.BootAsync(engine, Request, _ => { }, CancellationToken.None).WithTimeout();
        var watcherEnded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        vm.Watch(async token =>
        {
            await Task.Delay(Timeout.Infinite, token).ContinueWith(_ => { }, TaskScheduler.Default);
            watcherEnded.SetResult();
        });

        await vm.StopAsync(CancellationToken.None).WithTimeout();

        watcherEnded.Task.IsCompleted.ShouldBeTrue("the stop awaited the watcher its token ended");
        (await vm.Ended.WithTimeout()).ShouldBeNull();
        vm.State.ShouldBe(SandboxVmState.Stopped);
        engine.Vm!.Stopped.ShouldBeTrue();
        engine.Vm.Disposed.ShouldBeTrue();
        engine.Vm.Die(); // the VMM's exit after a requested stop fails nothing
        vm.State.ShouldBe(SandboxVmState.Stopped);
    }

    [Fact]
    public async Task The_OOM_watch_reports_each_kill_while_the_VM_is_Ready()
    {
        var engine = new FakeEngine();
        var vm = NewVm();
        var reported = new TaskCompletionSource<GuestOomKills>(TaskCreationOptions.RunContinuationsAsynchronously);
        await vm.BootAsync(engine, Request, kills => reported.TrySetResult(kills), CancellationToken.None).WithTimeout();

        await engine.Vm!.OomKills.Writer.WriteAsync("c1");

        (await reported.Task.WithTimeout()).ShouldBe(new GuestOomKills("c1", 1));
    }

    private static SandboxVm NewVm(SandboxVmHealth? health = null) =>
        new("pod1", health ?? SandboxVmHealth.Default, TimeProvider.System, NullLogger.Instance);
}
