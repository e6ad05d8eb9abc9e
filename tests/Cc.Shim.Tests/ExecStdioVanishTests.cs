using Cc.Containerd.Protocol;
using Cc.Containerd.Protocol.Tasks;
using Cc.Containerd.Protocol.Types;
using Cc.Shim.Sandbox;
using Cc.Shim.Tests.Fakes;
using Cc.TestKit;
using Cc.Ttrpc;
using Google.Protobuf;

namespace Cc.Shim.Tests;

/// <summary>
/// An Exec whose stdio FIFO cannot be opened after the exec was registered (issue 8: it vanished in between):
/// InvalidArgument as at Create, and nothing of the exec stays stored for the guest, so the id works again; an exec
/// deleted unstarted is taken back too.
/// </summary>
public sealed class ExecStdioVanishTests
{
    private static readonly ProcessKey E1 = new("c1", "e1");

    [Fact]
    public async Task A_stdout_fifo_that_cannot_be_opened_after_the_exec_was_registered_takes_the_exec_back()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");
        // It exists, so the check before the registration passes; open(2) fails after it (EISDIR), where a FIFO that
        // vanished in between fails with ENOENT: the same path through the shim.
        var fifo = Path.Combine(shim.Root, "e1-stdout");
        Directory.CreateDirectory(fifo);

        var error = await Should.ThrowAsync<TtrpcException>(shim.Tasks.ExecAsync(new ExecProcessRequest
        {
            Id = "c1", ExecId = "e1", Spec = SleepSpec(), Stdout = "fifo://" + fifo,
        }).WithTimeout());

        error.Code.ShouldBe(StatusCode.InvalidArgument);
        error.Message.ShouldContain($"open stdio FIFO {fifo}");
        shim.Vm.RegisteredExecs.ShouldNotContain(E1, "nothing of the failed exec stays stored for the guest");
        (await Should.ThrowAsync<TtrpcException>(shim.Tasks.StateAsync(new StateRequest { Id = "c1", ExecId = "e1" }).WithTimeout()))
            .Code.ShouldBe(StatusCode.NotFound);
        await shim.ExecStartedAsync("c1", "e1", SleepSpec());
        (await shim.ExitedAsync(E1, 3)).ExitStatus.ShouldBe(3u, "the same id runs as if the failed exec never came");
    }

    [Fact]
    public async Task An_exec_deleted_before_its_start_is_taken_back_from_the_guest()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateStartedAsync("c1");
        await shim.Tasks.ExecAsync(new ExecProcessRequest { Id = "c1", ExecId = "e1", Spec = SleepSpec() }).WithTimeout();
        shim.Vm.RegisteredExecs.ShouldContain(E1);

        await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1", ExecId = "e1" }).WithTimeout();

        shim.Vm.RegisteredExecs.ShouldNotContain(E1);
        shim.Fake.Calls.ShouldNotContain("start c1/e1");
    }

    private static Google.Protobuf.WellKnownTypes.Any SleepSpec() =>
        TypeUrls.PackRaw(TypeUrls.OciProcess, ByteString.CopyFromUtf8("""{"args":["sleep","1000"],"cwd":"/"}"""));
}
