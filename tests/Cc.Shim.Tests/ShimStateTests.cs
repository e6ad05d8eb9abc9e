using System.Diagnostics;
using Cc.Containerd.Protocol.Tasks;
using Cc.Shim.Cli;
using Cc.Shim.Configuration;
using Cc.Shim.Lifetime;
using Cc.Shim.Tests.Fakes;
using Cc.TestKit;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Shim.Tests;

/// <summary>
/// The bundle's cc-state.json (docs/reliability.md, "The state file"): start records the run directory of the
/// configuration containerd named, the daemon and delete use it, and the daemon leaves no run directory behind.
/// </summary>
public sealed class ShimStateTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("cc-state-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Start_records_the_run_directory_of_the_configuration_named_in_the_runtime_options()
    {
        var named = Path.Combine(_root, "named.toml");
        var runDir = Path.Combine(_root, "named-run");
        File.WriteAllText(named, $"[runtime]\nrun_dir = \"{runDir}\"\n");
        var options = Any.Pack(new Cc.Containerd.Protocol.RuntimeOptions.Options { ConfigPath = named });
        var bundle = ShimHarness.NewBundle(_root, "t1");
        using var stderr = new StringWriter();

        var code = ShimEntry.Start(new ShimArguments { Namespace = "ns", Address = "/run/containerd/containerd.sock", Id = "t1" },
            new MemoryStream(options.ToByteArray()), new StringWriter(), stderr, (_, listener) =>
            {
                listener.Dispose();
                return 4242;
            }, Path.Combine(_root, "s"), bundle, [Path.Combine(_root, "absent.toml")]);

        code.ShouldBe(ShimEntry.ExitOk, stderr.ToString());
        var state = ShimState.Read(bundle).ShouldNotBeNull();
        state.RunDirectory.ShouldBe(Path.Combine(runDir, "ns", "t1"));
        state.SandboxId.ShouldBe("t1");
        state.Namespace.ShouldBe("ns");
        state.VmmPid.ShouldBe(0);
    }

    [Fact]
    public void Delete_after_a_dead_daemon_removes_the_run_directory_the_state_names_not_the_system_one()
    {
        var bundle = ShimHarness.NewBundle(_root, "sb1");
        var recorded = Path.Combine(_root, "recorded", "k8s.io", "sb1");
        var system = Path.Combine(_root, "system", "k8s.io", "sb1");
        foreach (var dir in new[] { recorded, system })
        {
            Directory.CreateDirectory(Path.Combine(dir, "shared", "containers", "sb1", "rootfs"));
            File.WriteAllText(Path.Combine(dir, "console.log"), "boot");
        }
        new ShimState { Namespace = "k8s.io", SandboxId = "sb1", RunDirectory = recorded }.Write(bundle);
        var configuration = new ShimConfiguration { Runtime = { RunDir = Path.Combine(_root, "system") } };
        var warnings = new StringWriter();

        DeleteCommand.Run(new ShimArguments { Namespace = "k8s.io", Id = "sb1" }, bundle, configuration, TimeProvider.System, warnings);

        Directory.Exists(recorded).ShouldBeFalse(warnings.ToString());
        Directory.Exists(system).ShouldBeTrue("delete touches only the directory the state names");
    }

    [Fact]
    public async Task Delete_kills_the_recorded_vmm_only_while_its_pid_has_the_recorded_start_time()
    {
        var bundle = ShimHarness.NewBundle(_root, "sb2");
        var runDir = Path.Combine(_root, "run", "ns", "sb2");
        using var standIn = Process.Start("sleep", "60");
        var started = ShimState.ProcessStartTime(standIn.Id).ShouldNotBeNull();
        var configuration = new ShimConfiguration { Runtime = { RunDir = Path.Combine(_root, "run") } };
        var args = new ShimArguments { Namespace = "ns", Id = "sb2" };
        try
        {
            // A recycled pid: same number, another process. It must survive.
            Directory.CreateDirectory(runDir);
            new ShimState { Namespace = "ns", SandboxId = "sb2", RunDirectory = runDir, VmmPid = standIn.Id, VmmStartTime = started + 1 }
                .Write(bundle);
            DeleteCommand.Run(args, bundle, configuration, TimeProvider.System, new StringWriter());
            standIn.HasExited.ShouldBeFalse("a pid whose start time differs is not our VMM");

            Directory.CreateDirectory(runDir);
            new ShimState { Namespace = "ns", SandboxId = "sb2", RunDirectory = runDir, VmmPid = standIn.Id, VmmStartTime = started }
                .Write(bundle);
            DeleteCommand.Run(args, bundle, configuration, TimeProvider.System, new StringWriter());
            await standIn.WaitForExitAsync().WithTimeout(TimeSpan.FromSeconds(10));
            Directory.Exists(runDir).ShouldBeFalse();
        }
        finally
        {
            if (!standIn.HasExited)
            {
                standIn.Kill();
            }
        }
    }

    [Fact]
    public async Task A_daemon_stopped_by_SIGTERM_removes_its_sandbox_run_directory()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateAsync("c1");
        var runDirectory = Path.Combine(shim.Root, "run", "k8s.io", "sandbox1");
        Directory.Exists(runDirectory).ShouldBeTrue("the first Create made the sandbox's run directory");

        shim.Lifetime.RequestStop("SIGTERM");

        (await shim.Daemon.WithTimeout(TimeSpan.FromSeconds(20))).ShouldBe(0);
        Directory.Exists(runDirectory).ShouldBeFalse("the daemon removes the run directory once the VM is stopped");
    }

    [Fact]
    public async Task The_last_delete_and_shutdown_leave_no_run_directory()
    {
        await using var shim = await ShimHarness.StartAsync();
        await shim.CreateAsync("c1");
        var runDirectory = Path.Combine(shim.Root, "run", "k8s.io", "sandbox1");

        await shim.Tasks.DeleteAsync(new DeleteRequest { Id = "c1" }).WithTimeout();
        await shim.Tasks.ShutdownAsync(new ShutdownRequest { Id = "c1" }).WithTimeout();

        (await shim.Daemon.WithTimeout(TimeSpan.FromSeconds(20))).ShouldBe(0);
        Directory.Exists(runDirectory).ShouldBeFalse();
    }
}
