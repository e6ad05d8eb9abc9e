using Cc.Containerd.Protocol.Tasks;
using Cc.Shim.Tests.Fakes;
using Cc.TestKit;
using Cc.Ttrpc;

namespace Cc.Shim.Tests;

/// <summary>
/// Create (and Exec) with bad input from the bundle or the client: a clear InvalidArgument that names the file and the
/// problem, nothing made or everything made undone, and the same id works once the input is good (docs/reliability.md,
/// "Hostile configuration").
/// </summary>
public sealed class HostileCreateTests
{
    [Theory]
    [InlineData("{\"ociVersion\": \"1.1.0\", ", "config.json is not valid JSON")]
    [InlineData("[1, 2, 3]", "config.json is not a JSON object")]
    [InlineData("{\"ociVersion\":\"1.1.0\",\"annotations\":{\"io.kubernetes.cri.sandbox-memory\":\"lots\"}}", "annotation")]
    public async Task A_broken_config_json_is_InvalidArgument_naming_the_file_and_nothing_is_made(string json, string problem)
    {
        await using var shim = await ShimHarness.StartAsync();
        var bundle = shim.Bundle("c1");
        var configJson = Path.Combine(bundle, "config.json");
        File.WriteAllText(configJson, json);

        var error = await Should.ThrowAsync<TtrpcException>(
            shim.Tasks.CreateAsync(new CreateTaskRequest { Id = "c1", Bundle = bundle }).WithTimeout());

        error.Code.ShouldBe(StatusCode.InvalidArgument);
        error.Message.ShouldStartWith($"{configJson}: {problem}");
        shim.Fake.Launches.ShouldBe(0, "no VM is booted for a spec that cannot be read");
        shim.Fake.PreparedRootfs.ShouldBeEmpty();
        // Nothing is left in the way of the same id.
        (await shim.CreateAsync("c1")).Pid.ShouldBe((uint)shim.Vm.Pid);
    }

    [Fact]
    public async Task A_config_json_that_cannot_be_read_is_InvalidArgument_naming_the_file()
    {
        await using var shim = await ShimHarness.StartAsync();
        var bundle = shim.Bundle("c1");
        var configJson = Path.Combine(bundle, "config.json");
        File.Delete(configJson);
        Directory.CreateDirectory(configJson);

        var error = await Should.ThrowAsync<TtrpcException>(
            shim.Tasks.CreateAsync(new CreateTaskRequest { Id = "c1", Bundle = bundle }).WithTimeout());

        error.Code.ShouldBe(StatusCode.InvalidArgument);
        error.Message.ShouldStartWith($"{configJson} cannot be read");
        shim.Fake.Launches.ShouldBe(0);
    }

    [Theory]
    [InlineData("stdin")]
    [InlineData("stdout")]
    [InlineData("stderr")]
    public async Task A_stdio_fifo_that_vanished_before_Create_is_InvalidArgument_naming_it_and_nothing_is_made(string stream)
    {
        await using var shim = await ShimHarness.StartAsync();
        var gone = Path.Combine(shim.Root, "fifos", $"c1-{stream}");
        var request = new CreateTaskRequest { Id = "c1", Bundle = shim.Bundle("c1") };
        switch (stream)
        {
            case "stdin": request.Stdin = gone; break;
            case "stdout": request.Stdout = gone; break;
            default: request.Stderr = gone; break;
        }

        var error = await Should.ThrowAsync<TtrpcException>(shim.Tasks.CreateAsync(request).WithTimeout());

        error.Code.ShouldBe(StatusCode.InvalidArgument);
        error.Message.ShouldBe($"{stream} FIFO {gone} does not exist: the client's end of the stdio is gone");
        shim.Fake.Launches.ShouldBe(0);
        shim.Fake.PreparedRootfs.ShouldBeEmpty();
        (await shim.CreateAsync("c1")).Pid.ShouldBe((uint)shim.Vm.Pid);
    }

    [Fact]
    public async Task A_stdout_fifo_that_vanishes_during_Create_undoes_the_guest_container_and_the_rootfs()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateAsync("c0"); // the VM is up: the next Create goes straight to the guest
        var fifo = Path.Combine(shim.Root, "c1-stdout");
        File.WriteAllText(fifo, "");
        shim.Vm.CreateArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        shim.Vm.CreateGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var create = shim.Tasks.CreateAsync(new CreateTaskRequest { Id = "c1", Bundle = shim.Bundle("c1"), Stdout = "fifo://" + fifo });
        await shim.Vm.CreateArrived.Task.WithTimeout();
        File.Delete(fifo);
        shim.Vm.CreateGate.SetResult();
        var error = await Should.ThrowAsync<TtrpcException>(create.WithTimeout());

        error.Code.ShouldBe(StatusCode.InvalidArgument);
        error.Message.ShouldContain($"open stdio FIFO {fifo}");
        shim.Fake.Calls.ShouldContain("remove c1", "the container made in the guest is removed");
        shim.Fake.PreparedRootfs.ShouldNotContainKey("c1", "the shared rootfs is released");
        (await Should.ThrowAsync<TtrpcException>(shim.Tasks.StateAsync(new StateRequest { Id = "c1" }).WithTimeout()))
            .Code.ShouldBe(StatusCode.NotFound);
        shim.Vm.CreateGate = null;
        await shim.CreateAsync("c1");
        (await shim.Tasks.StateAsync(new StateRequest { Id = "c0" }).WithTimeout()).Id.ShouldBe("c0", "the pod's other container is untouched");
    }
}
