using Cc.Agent.Protocol.V1;
using Cc.Agent.Tests.Fixtures;
using Cc.Ttrpc;
using Google.Protobuf;

namespace Cc.Agent.Tests;

// Requests the agent must refuse with a clear status, and keep serving afterwards.
public sealed class BadRequestTests : IAsyncLifetime
{
    private AgentOverTtrpc _agent = null!;

    public async Task InitializeAsync() => _agent = await AgentOverTtrpc.StartAsync();

    public async Task DisposeAsync() => await _agent.DisposeAsync();

    [Fact]
    public async Task An_unknown_container_is_NotFound_for_every_kind_of_call()
    {
        (await Fails(() => _agent.Client.StartContainerAsync(new StartContainerRequest { ContainerId = "nope" }))).Code.ShouldBe(StatusCode.NotFound);
        (await Fails(() => _agent.WaitAsync("nope"))).Code.ShouldBe(StatusCode.NotFound);
        (await Fails(() => _agent.SignalAsync("nope", 15))).Code.ShouldBe(StatusCode.NotFound);
        (await Fails(() => _agent.ExecAsync("nope", "x", false, false, "true"))).Code.ShouldBe(StatusCode.NotFound);
        var error = await Fails(() => _agent.Client.ReadStdoutAsync(new ReadStreamRequest { ContainerId = "nope", MaxBytes = 10 }));
        error.Code.ShouldBe(StatusCode.NotFound);
        error.Message.ShouldContain("nope");
    }

    [Fact]
    public async Task A_duplicate_container_id_is_AlreadyExists()
    {
        await _agent.CreateAsync("dup", BusyboxBundle.Spec("true"));

        (await Fails(() => _agent.CreateAsync("dup", BusyboxBundle.Spec("true")))).Code.ShouldBe(StatusCode.AlreadyExists);
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("[1, 2]")]
    [InlineData("{\"ociVersion\": \"1.0.2\"}")]
    [InlineData("{\"process\": {\"args\": []}}")]
    public async Task A_malformed_spec_is_InvalidArgument_and_leaves_no_container(string spec)
    {
        var error = await Fails(() => _agent.CreateAsync("bad", System.Text.Encoding.UTF8.GetBytes(spec)));

        error.Code.ShouldBe(StatusCode.InvalidArgument);
        error.Message.ShouldContain("malformed OCI");
        await _agent.CreateAsync("bad", BusyboxBundle.Spec("true"));
    }

    [Theory]
    [InlineData("relative/rootfs")]
    [InlineData("/etc")]
    [InlineData("/tmp/../etc")]
    public async Task A_rootfs_outside_the_shared_containers_directory_is_InvalidArgument(string rootfs)
    {
        var error = await Fails(() => _agent.Client.CreateContainerAsync(new CreateContainerRequest
        {
            ContainerId = "rootfs",
            OciSpecJson = ByteString.CopyFrom(BusyboxBundle.Spec("true")),
            RootfsPath = rootfs,
        }));

        error.Code.ShouldBe(StatusCode.InvalidArgument);
    }

    [Theory]
    [InlineData("")]
    [InlineData("../escape")]
    [InlineData(".hidden")]
    [InlineData("a/b")]
    public async Task A_container_id_that_is_not_a_plain_name_is_InvalidArgument(string id)
    {
        (await Fails(() => _agent.CreateAsync(id, BusyboxBundle.Spec("true")))).Code.ShouldBe(StatusCode.InvalidArgument);
    }

    [Fact]
    public async Task Starting_twice_and_exec_before_start_are_FailedPrecondition()
    {
        await _agent.CreateAsync("twice", BusyboxBundle.Spec("sleep", "100"));
        (await Fails(() => _agent.ExecAsync("twice", "early", false, false, "true"))).Code.ShouldBe(StatusCode.FailedPrecondition);

        await _agent.Client.StartContainerAsync(new StartContainerRequest { ContainerId = "twice" });

        (await Fails(() => _agent.Client.StartContainerAsync(new StartContainerRequest { ContainerId = "twice" })))
            .Code.ShouldBe(StatusCode.FailedPrecondition);
    }

    [Fact]
    public async Task Resizing_a_process_without_a_terminal_and_bad_read_sizes_are_refused()
    {
        await _agent.RunAsync("plain", BusyboxBundle.Spec("sleep", "100"));

        (await Fails(() => _agent.Client.ResizePtyAsync(new ResizePtyRequest { ContainerId = "plain", Columns = 80, Rows = 24 })))
            .Code.ShouldBe(StatusCode.FailedPrecondition);
        (await Fails(() => _agent.Client.ReadStdoutAsync(new ReadStreamRequest { ContainerId = "plain", MaxBytes = 0 })))
            .Code.ShouldBe(StatusCode.InvalidArgument);
        (await Fails(() => _agent.WriteAsync("plain", "x"))).Code.ShouldBe(StatusCode.FailedPrecondition);
        (await Fails(() => _agent.SignalAsync("plain", 0))).Code.ShouldBe(StatusCode.InvalidArgument);
    }

    [Fact]
    public async Task A_command_that_does_not_exist_fails_creation_with_the_runtimes_reason()
    {
        var error = await Fails(() => _agent.CreateAsync("missing", BusyboxBundle.Spec("/bin/does-not-exist")));

        error.Code.ShouldBe(StatusCode.Internal);
        error.Message.ShouldContain("crun create");
        error.Message.ShouldContain("does-not-exist");
        await _agent.CreateAsync("missing", BusyboxBundle.Spec("true"));
        (await _agent.Client.CheckAsync(new CheckRequest())).Ready.ShouldBeTrue();
    }

    private static async Task<TtrpcException> Fails(Func<Task> call) =>
        await Should.ThrowAsync<TtrpcException>(() => call().WaitAsync(AgentOverTtrpc.Timeout));
}
