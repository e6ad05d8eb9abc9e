using Cc.Agent.Containers;
using Cc.Agent.Protocol.V1;
using Cc.Agent.Tests.Fixtures;
using Cc.Ttrpc;
using Google.Protobuf;

namespace Cc.Agent.Tests;

// UpdateContainer's refusals over the wire, and the OOM watch against memory.events files it is given. (The host's
// hybrid cgroups keep crun's cgroup manager disabled here; limits and real OOM kills are proven in the guest by the
// containerd contract tests.)
public sealed class ResourcesTests : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);
    private readonly string _cgroup = Path.Combine("/tmp", "cca-oom-" + Guid.NewGuid().ToString("N")[..8]);
    private AgentOverTtrpc _agent = null!;

    public async Task InitializeAsync()
    {
        _agent = await AgentOverTtrpc.StartAsync();
        Directory.CreateDirectory(_cgroup);
    }

    public async Task DisposeAsync() => await _agent.DisposeAsync();

    public void Dispose() => Directory.Delete(_cgroup, recursive: true);

    [Fact]
    public async Task Update_of_an_unknown_container_is_NotFound()
    {
        var error = await Fails(() => Update("nope", "{}"));

        error.Code.ShouldBe(StatusCode.NotFound);
        error.Message.ShouldContain("nope");
    }

    [Theory]
    [InlineData("")]
    [InlineData("{not json")]
    [InlineData("[1]")]
    [InlineData("{\"memory\": [1]}")]
    [InlineData("{\"pids\": 5}")]
    public async Task Update_with_resources_that_are_not_LinuxResources_is_InvalidArgument(string json)
    {
        await _agent.CreateAsync("upd", BusyboxBundle.Spec("sleep", "100"));

        var error = await Fails(() => Update("upd", json));

        error.Code.ShouldBe(StatusCode.InvalidArgument);
        error.Message.ShouldContain("LinuxResources");
    }

    [Fact]
    public async Task Update_of_a_stopped_container_is_FailedPrecondition()
    {
        await _agent.RunAsync("done", BusyboxBundle.Spec("true"));
        await _agent.WaitAsync("done").WaitAsync(s_timeout);

        var error = await Fails(() => Update("done", "{\"memory\": {\"limit\": 33554432}}"));

        error.Code.ShouldBe(StatusCode.FailedPrecondition);
        error.Message.ShouldContain("stopped");
    }

    [Fact]
    public async Task An_oom_kill_counted_after_the_watch_began_is_reported_once_per_rise()
    {
        var events = Path.Combine(_cgroup, "memory.events");
        await File.WriteAllTextAsync(events, "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
        var watcher = new OomWatcher(TimeSpan.FromMilliseconds(20));
        watcher.Watch("c1", events);

        using (var quiet = new CancellationTokenSource(TimeSpan.FromMilliseconds(300)))
        {
            // The kill counted before the watch is not news.
            await Should.ThrowAsync<OperationCanceledException>(watcher.NextAsync(quiet.Token).AsTask());
        }

        await File.WriteAllTextAsync(events, "low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n");
        (await watcher.NextAsync(CancellationToken.None).AsTask().WaitAsync(s_timeout)).ShouldBe(new OomKills("c1", 1));

        await File.WriteAllTextAsync(events, "low 0\nhigh 0\nmax 9\noom 3\noom_kill 3\n");
        watcher.Check("c1").ShouldBe(2UL);
        (await watcher.NextAsync(CancellationToken.None).AsTask().WaitAsync(s_timeout)).ShouldBe(new OomKills("c1", 2));
        watcher.Check("c1").ShouldBe(2UL, "no rise: the count since the watch, nothing queued");

        watcher.Forget("c1");
        await File.WriteAllTextAsync(events, "oom_kill 4\n");
        watcher.Check("c1").ShouldBe(0UL, "a container no longer watched");
        using var after = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Should.ThrowAsync<OperationCanceledException>(watcher.NextAsync(after.Token).AsTask());
    }

    [Fact]
    public void A_missing_memory_events_file_counts_no_kills()
    {
        OomWatcher.ReadOomKills(Path.Combine(_cgroup, "absent")).ShouldBe(0UL);
    }

    [Fact]
    public async Task GetOomEvent_waits_and_a_timed_out_poll_is_DeadlineExceeded()
    {
        var error = await Fails(() => _agent.Client.GetOomEventAsync(new GetOomEventRequest(),
            new CallOptions(Timeout: TimeSpan.FromMilliseconds(300))));

        error.Code.ShouldBe(StatusCode.DeadlineExceeded);
    }

    private Task Update(string id, string json) =>
        _agent.Client.UpdateContainerAsync(new UpdateContainerRequest { ContainerId = id, ResourcesJson = ByteString.CopyFromUtf8(json) });

    private static async Task<TtrpcException> Fails(Func<Task> call) =>
        await Should.ThrowAsync<TtrpcException>(() => call().WaitAsync(AgentOverTtrpc.Timeout));
}
