using Cc.Containerd.Protocol.Tasks;
using Cc.Shim.Configuration;
using Cc.Shim.Sandbox;
using Cc.Shim.Tests.Fakes;
using Cc.TestKit;
using Cc.Ttrpc;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Shim.Tests;

/// <summary>
/// <c>[runtime] pids</c> (docs/configuration.md): what Task Pids answers, the guest's processes or the VMM's pid, and
/// <c>auto</c> = the VMM pid in dockerd's namespace only (docs/compatibility.md, "docker top").
/// </summary>
public sealed class PidsSourceTests
{
    private static readonly uint[] GuestPids = [1u, 12u]; // FakeVm's ListProcessesAsync

    [Theory]
    [InlineData("auto", PidsSource.Auto)]
    [InlineData("guest", PidsSource.Guest)]
    [InlineData("vmm", PidsSource.Vmm)]
    public void Each_documented_value_parses(string value, PidsSource expected) => PidsSources.Parse(value).ShouldBe(expected);

    [Fact]
    public void The_default_is_auto() =>
        ConfigurationLoader.Parse("[runtime]\nrun_dir = \"/run/x\"\n", "test").Runtime.Pids.ShouldBe("auto");

    [Theory]
    [InlineData("host")]
    [InlineData("VMM")]
    [InlineData("")]
    public void Any_other_value_is_refused_naming_the_file_and_the_key(string value)
    {
        var error = Should.Throw<ConfigurationException>(() => ConfigurationLoader.Parse($"[runtime]\npids = \"{value}\"\n", "/etc/x.toml"));

        error.Message.ShouldBe($"/etc/x.toml: runtime.pids = \"{value}\" is not one of \"auto\", \"guest\", \"vmm\"");
    }

    [Theory]
    [InlineData(PidsSource.Auto, "k8s.io", true)]
    [InlineData(PidsSource.Auto, "default", true)]
    [InlineData(PidsSource.Auto, "moby", false)]
    [InlineData(PidsSource.Guest, "moby", true)]
    [InlineData(PidsSource.Guest, "k8s.io", true)]
    [InlineData(PidsSource.Vmm, "k8s.io", false)]
    [InlineData(PidsSource.Vmm, "moby", false)]
    public async Task The_sandbox_lists_the_guest_or_answers_the_vmm_pid_as_the_source_says(PidsSource source, string ns, bool guest)
    {
        await using var pod = FakeSandbox.Start(ns);
        await pod.CreateAsync("c1");

        var pids = await pod.Sandbox.PidsAsync("c1", source, TimeSpan.FromSeconds(5), CancellationToken.None).WithTimeout();

        pids.Select(p => p.Pid).ShouldBe(guest ? GuestPids : [(uint)pod.Engine.Vm!.Pid]);
    }

    [Fact]
    public async Task Through_the_Task_API_the_pods_configuration_chooses_vmm_outside_dockerds_namespace()
    {
        await using var shim = await ShimHarness.StartAsync(ns: "k8s.io");
        await shim.Tasks.CreateAsync(new CreateTaskRequest
        {
            Id = "c1", Bundle = shim.Bundle("c1"), Options = WithConfiguration("[runtime]\npids = \"vmm\"\n"),
        }).WithTimeout();

        var pids = await shim.Tasks.PidsAsync(new PidsRequest { Id = "c1" }).WithTimeout();

        pids.Processes.Select(p => p.Pid).ShouldBe([(uint)shim.Vm.Pid]);
    }

    [Fact]
    public async Task Through_the_Task_API_guest_lists_the_guest_in_dockerds_namespace()
    {
        await using var shim = await ShimHarness.StartAsync(ns: "moby");
        await shim.Tasks.CreateAsync(new CreateTaskRequest
        {
            Id = "c1", Bundle = shim.Bundle("c1"), Options = WithConfiguration("[runtime]\npids = \"guest\"\n"),
        }).WithTimeout();

        var pids = await shim.Tasks.PidsAsync(new PidsRequest { Id = "c1" }).WithTimeout();

        pids.Processes.Select(p => p.Pid).ShouldBe(GuestPids);
    }

    [Fact]
    public async Task A_create_whose_configuration_has_an_unknown_pids_value_is_FailedPrecondition_as_any_bad_configuration_and_launches_nothing()
    {
        await using var shim = await ShimHarness.StartAsync();

        var error = await Should.ThrowAsync<TtrpcException>(shim.Tasks.CreateAsync(new CreateTaskRequest
        {
            Id = "c1", Bundle = shim.Bundle("c1"), Options = WithConfiguration("[runtime]\npids = \"host\"\n"),
        }).WithTimeout());

        error.Code.ShouldBe(StatusCode.FailedPrecondition, "ErrorMapping: every configuration error");
        error.Message.ShouldContain("runtime.pids = \"host\" is not one of");
        shim.Fake.Launches.ShouldBe(0);
    }

    private static Any WithConfiguration(string toml) =>
        Any.Pack(new Cc.Containerd.Protocol.RuntimeOptions.Options { ConfigBody = ByteString.CopyFromUtf8(toml) });
}
