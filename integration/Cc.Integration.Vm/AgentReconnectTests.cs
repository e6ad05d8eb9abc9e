using Cc.Agent.Protocol;
using Cc.Agent.Protocol.V1;
using Cc.Hypervisor.Qemu;
using Cc.TestKit;
using Cc.Ttrpc;

namespace Cc.Integration.Vm;

/// <summary>
/// A host that hangs up and reconnects before the guest notices is a new client on what the guest still takes for
/// the old connection (virtio-serial has no boundary the guest always sees). A VM clone restored from a template
/// saved in that window is the same case: the clone's shim starts again at stream id 1.
/// </summary>
public sealed class AgentReconnectTests : IAsyncLifetime
{
    private AgentVm _vm = null!;

    public async Task InitializeAsync() => _vm = await AgentVm.BootAsync();

    public async Task DisposeAsync() => await _vm.DisposeAsync();

    [Fact]
    public async Task A_new_host_session_the_paused_guest_never_saw_begin_is_served_from_stream_id_1()
    {
        // The first session takes stream ids past 1.
        for (int i = 0; i < 3; i++)
        {
            (await _vm.Client.CheckAsync(new CheckRequest()).WithTimeout(AgentVm.CallTimeout)).Ready.ShouldBeTrue();
        }

        // With the guest's vCPUs stopped, the hang-up and the new session's first request are queued together: the
        // guest cannot see the port close before the new host's bytes arrive.
        var qmp = ((QemuVirtualMachine)_vm.Machine).Qmp;
        await qmp.PauseAsync(CancellationToken.None).WithTimeout(AgentVm.CallTimeout);
        await _vm.Client.Connection.DisposeAsync();
        await using var client = await TtrpcClient.ConnectAsync(_vm.Machine.Agent.ToString()!).WithTimeout(AgentVm.CallTimeout);
        var agent = new AgentClient(client);
        var check = agent.CheckAsync(new CheckRequest(), new CallOptions(Timeout: AgentVm.CallTimeout));
        await qmp.ResumeAsync(CancellationToken.None).WithTimeout(AgentVm.CallTimeout);

        (await check.WithTimeout(AgentVm.CallTimeout)).Ready.ShouldBeTrue(_vm.Console());
        (await agent.CheckAsync(new CheckRequest()).WithTimeout(AgentVm.CallTimeout)).Ready.ShouldBeTrue();
    }
}
