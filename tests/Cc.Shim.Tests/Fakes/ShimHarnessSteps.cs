using Cc.Containerd.Protocol.Tasks;
using Cc.Shim.Sandbox;
using Cc.TestKit;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Shim.Tests.Fakes;

/// <summary>
/// The arrange steps the Task API tests repeat (IdempotentCallTests, DeadVmTests, TaskServiceTests): each is the
/// same calls containerd makes, bounded by <c>WithTimeout</c>, so a test states only what it is about.
/// </summary>
internal static class ShimHarnessSteps
{
    /// <summary>Create then Start of container <paramref name="id"/>: its init runs in the fake VM.</summary>
    public static async Task CreateStartedAsync(this ShimHarness shim, string id)
    {
        await shim.CreateAsync(id);
        await shim.Tasks.StartAsync(new StartRequest { Id = id }).WithTimeout();
    }

    /// <summary>Exec then Start of <paramref name="execId"/> in container <paramref name="id"/> with the OCI process <paramref name="spec"/>.</summary>
    public static async Task ExecStartedAsync(this ShimHarness shim, string id, string execId, Any spec)
    {
        await shim.Tasks.ExecAsync(new ExecProcessRequest { Id = id, ExecId = execId, Spec = spec }).WithTimeout();
        await shim.Tasks.StartAsync(new StartRequest { Id = id, ExecId = execId }).WithTimeout();
    }

    /// <summary>The fake guest reports that <paramref name="process"/> exited with <paramref name="status"/>; returns containerd's Wait of it.</summary>
    public static async Task<WaitResponse> ExitedAsync(this ShimHarness shim, ProcessKey process, uint status)
    {
        shim.Vm.Exit(process, status);
        return await shim.Tasks.WaitAsync(new WaitRequest { Id = process.ContainerId, ExecId = process.ExecId }).WithTimeout();
    }
}
