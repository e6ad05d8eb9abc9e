using Cc.Containerd.Protocol;
using Cc.Containerd.Protocol.Tasks;
using Cc.Shim.Sandbox;
using Cc.Shim.Tests.Fakes;
using Cc.TestKit;
using Google.Protobuf;

namespace Cc.Shim.Tests;

/// <summary>
/// Delete of an exec that ran deletes it in the guest too (the agent's DeleteProcess), so the agent frees its record and
/// its id; an exec deleted before its start never reached the guest and is not asked about. The fake agent has no
/// handler for DeleteProcess (it answers Unimplemented, as a guest image older than the call does): the Delete still
/// succeeds.
/// </summary>
public sealed class ExecDeleteTests
{
    [Fact]
    public async Task Deleting_an_exec_that_ran_asks_the_guest_to_delete_it_and_one_never_started_is_not_asked()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");
        await shim.ExecStartedAsync("c1", "e1", SleepSpec());
        await shim.ExitedAsync(new ProcessKey("c1", "e1"), 0);
        await shim.Tasks.ExecAsync(new ExecProcessRequest { Id = "c1", ExecId = "e2", Spec = SleepSpec() }).WithTimeout();

        await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1", ExecId = "e1" }).WithTimeout();
        await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1", ExecId = "e2" }).WithTimeout();

        shim.Fake.Calls.Count(c => c == "DeleteProcess (unimplemented)").ShouldBe(1, "only e1 ran in the guest");
        await shim.ExecStartedAsync("c1", "e1", SleepSpec()); // the id is free again
    }

    private static Google.Protobuf.WellKnownTypes.Any SleepSpec() =>
        TypeUrls.PackRaw(TypeUrls.OciProcess, ByteString.CopyFromUtf8("""{"args":["sleep","1000"],"cwd":"/"}"""));
}
