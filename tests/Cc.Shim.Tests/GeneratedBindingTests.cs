using Cc.Agent.Protocol;
using Cc.Agent.Protocol.V1;
using Cc.Containerd.Protocol.Events;
using Cc.Containerd.Protocol.Tasks;
using Cc.TestKit;
using Cc.Ttrpc;

namespace Cc.Shim.Tests;

/// <summary>
/// The bindings Cc.Ttrpc.Generator writes from api/ (the generator's own tests are in Cc.Ttrpc.Generator.Tests): the
/// wire names containerd and our agent dial, and the generated base over a real connection.
/// </summary>
// IAsyncLifetime, not IAsyncDisposable: xunit 2 never calls a test class's DisposeAsync(), so the temporary
// directory, the server and the client would outlive every test.
public sealed class GeneratedBindingTests : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("cc-binding-").FullName;
    private readonly TtrpcServer _server = new();
    private Task? _serving;

    [Fact]
    public void The_generated_service_names_are_the_ones_containerd_and_the_agent_dial()
    {
        TaskServiceBinding.ServiceName.ShouldBe("containerd.task.v2.Task");
        TaskServiceBinding.ServiceNames.ShouldBe(["containerd.task.v2.Task", "containerd.task.v3.Task"]);
        EventsServiceBinding.ServiceName.ShouldBe("containerd.services.events.ttrpc.v1.Events");
        AgentServiceBinding.ServiceName.ShouldBe("cc.agent.v1.Agent");
    }

    [Fact]
    public async Task An_agent_on_the_generated_base_answers_its_overrides_and_Unimplemented_for_every_other_rpc()
    {
        _server.Register(AgentServiceBinding.Bind(new CheckOnlyAgent()));
        var socket = Path.Combine(_root, "agent.sock");
        _serving = _server.ServeAsync("unix://" + socket);
        await Bounded.UntilAsync(() => File.Exists(socket), "the agent listens");
        await using var connection = await TtrpcClient.ConnectAsync("unix://" + socket).WithTimeout();
        var agent = new AgentClient(connection);

        (await agent.CheckAsync(new CheckRequest()).WithTimeout()).Ready.ShouldBeTrue();
        var error = await Should.ThrowAsync<TtrpcException>(agent.GetGuestDetailsAsync(new GetGuestDetailsRequest()).WithTimeout());

        error.Code.ShouldBe(StatusCode.Unimplemented);
        error.Message.ShouldBe("/cc.agent.v1.Agent/GetGuestDetails is not implemented");
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        if (_serving is not null)
        {
            try
            {
                await _serving.WithTimeout();
            }
            catch (Exception)
            {
                // The serve loop ends with the server's disposal; how is not under test.
            }
        }
        Directory.Delete(_root, recursive: true);
    }

    private sealed class CheckOnlyAgent : AgentServiceBase
    {
        public override ValueTask<CheckResponse> CheckAsync(CheckRequest request, ServerCallContext context) =>
            ValueTask.FromResult(new CheckResponse { Ready = true });
    }
}
