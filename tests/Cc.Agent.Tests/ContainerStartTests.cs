using System.Text;
using System.Text.Json.Nodes;
using Cc.Agent.Containers;
using Cc.Agent.Runtime;
using Cc.Agent.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Agent.Tests;

// StartContainer releases the init through crun's exec FIFO instead of running `crun start` (ExecFifo), and crun
// must not be able to tell the difference afterwards.
public sealed class ContainerStartTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    // What a test made: Dispose removes the containers before their world, so a failed test leaves no waiting init.
    private readonly List<(BusyboxBundle World, ContainerManager Manager)> _made = [];

    public void Dispose()
    {
        foreach (var (world, manager) in _made)
        {
            manager.RemoveAllAsync(CancellationToken.None).Wait(s_timeout);
            world.Dispose();
        }
    }

    private (BusyboxBundle World, ContainerManager Manager) New(bool rootInWrapper = false)
    {
        var world = new BusyboxBundle(rootInWrapper);
        var made = (world, new ContainerManager(world.Options, NullLoggerFactory.Instance));
        _made.Add(made);
        return made;
    }

    [Fact]
    public async Task A_container_released_through_its_exec_fifo_is_running_for_crun_and_crun_exec_ps_kill_delete_still_work()
    {
        var (world, manager) = New();
        var fifo = Path.Combine(world.StateRoot, "c1", ExecFifo.FileName);
        var pid = await manager.CreateAsync("c1", BusyboxBundle.Spec("sleep", "1000"), world.Rootfs,
            terminal: false, stdin: false, CancellationToken.None).WaitAsync(s_timeout);
        File.Exists(fifo).ShouldBeTrue("crun create leaves the init waiting on the FIFO");
        JsonNode.Parse(await world.CrunAsync("state", "c1"))!["status"]!.GetValue<string>().ShouldBe("created");

        (await manager.StartAsync("c1", CancellationToken.None).WaitAsync(s_timeout)).ShouldBe(pid);

        File.Exists(fifo).ShouldBeFalse("removed as crun start removes it");
        JsonNode.Parse(await world.CrunAsync("state", "c1"))!["status"]!.GetValue<string>().ShouldBe("running");

        // crun exec (through the agent)
        await manager.ExecAsync("c1", "e1", Encoding.UTF8.GetBytes(BusyboxBundle.Process("true").ToJsonString()),
            terminal: false, stdin: false, CancellationToken.None).WaitAsync(s_timeout);
        (await manager.WaitAsync("c1", "e1", CancellationToken.None).WaitAsync(s_timeout)).Status.Code.ShouldBe(0);
        // crun ps (through the agent)
        (await manager.ListProcessesAsync("c1", CancellationToken.None).WaitAsync(s_timeout)).Select(p => p.Pid).ShouldContain(pid);
        // crun kill, straight
        await world.CrunAsync("kill", "c1", "KILL");
        (await manager.WaitAsync("c1", "", CancellationToken.None).WaitAsync(s_timeout)).Status.Code.ShouldBe(128 + 9);
        // crun delete (through the agent), which leaves no state behind
        await manager.RemoveAsync("c1", CancellationToken.None).WaitAsync(s_timeout);
        Directory.Exists(Path.Combine(world.StateRoot, "c1")).ShouldBeFalse();
    }

    [Fact]
    public async Task A_released_container_runs_its_command_once_and_a_second_start_is_refused()
    {
        var (world, manager) = New();
        await manager.CreateAsync("c1", BusyboxBundle.Spec("sh", "-c", "echo hi; exit 3"), world.Rootfs,
            terminal: false, stdin: false, CancellationToken.None).WaitAsync(s_timeout);
        await manager.StartAsync("c1", CancellationToken.None).WaitAsync(s_timeout);

        var second = await Should.ThrowAsync<AgentErrorException>(manager.StartAsync("c1", CancellationToken.None).WaitAsync(s_timeout));

        second.Kind.ShouldBe(AgentErrorKind.FailedPrecondition);
        (await manager.WaitAsync("c1", "", CancellationToken.None).WaitAsync(s_timeout)).Status.Code.ShouldBe(3);
    }

    [Fact]
    public async Task A_container_whose_fifo_is_not_where_the_agent_looks_is_started_through_crun_start()
    {
        // The wrapper gives crun its --root, so the agent looks under /run/crun, finds nothing, and runs crun start.
        var (world, manager) = New(rootInWrapper: true);
        var id = "fallback-" + Guid.NewGuid().ToString("N")[..8];
        ExecFifo.StateRoot(world.Options).ShouldBe("/run/crun");
        await manager.CreateAsync(id, BusyboxBundle.Spec("sh", "-c", "exit 4"), world.Rootfs,
            terminal: false, stdin: false, CancellationToken.None).WaitAsync(s_timeout);
        File.Exists(Path.Combine(world.StateRoot, id, ExecFifo.FileName)).ShouldBeTrue();

        await manager.StartAsync(id, CancellationToken.None).WaitAsync(s_timeout);

        (await manager.WaitAsync(id, "", CancellationToken.None).WaitAsync(s_timeout)).Status.Code.ShouldBe(4);
        File.Exists(Path.Combine(world.StateRoot, id, ExecFifo.FileName)).ShouldBeFalse("crun start released it");
    }

    [Fact]
    public void Crun_state_root_is_its_root_option_else_the_runtime_environment_s_xdg_runtime_dir_else_run_crun()
    {
        ExecFifo.StateRoot(new AgentOptions { RuntimeGlobalArguments = ["--cgroup-manager=disabled", "--root=/a"] }).ShouldBe("/a");
        ExecFifo.StateRoot(new AgentOptions { RuntimeGlobalArguments = ["--root", "/b", "--systemd-cgroup"] }).ShouldBe("/b");
        ExecFifo.StateRoot(new AgentOptions { RuntimeEnvironment = ["PATH=/bin", "XDG_RUNTIME_DIR=/run/user/0"] })
            .ShouldBe("/run/user/0/crun");
        ExecFifo.StateRoot(new AgentOptions()).ShouldBe("/run/crun");
        ExecFifo.RuntimeStartNeeded(new AgentOptions()).ShouldBeFalse();
        ExecFifo.RuntimeStartNeeded(new AgentOptions { RuntimeEnvironment = ["NOTIFY_SOCKET=/n"] }).ShouldBeTrue();
    }

    [Fact]
    public void Releasing_a_missing_fifo_changes_nothing_and_says_missing()
    {
        ExecFifo.Release(Path.Combine("/tmp", "cca-none-" + Guid.NewGuid().ToString("N"), ExecFifo.FileName))
            .ShouldBe(ExecFifo.Outcome.Missing);
    }

    [Fact]
    public void A_fifo_nobody_reads_any_more_is_an_init_that_exited_and_stays_in_place()
    {
        var path = Path.Combine("/tmp", "cca-fifo-" + Guid.NewGuid().ToString("N"));
        Mkfifo(path);
        try
        {
            Should.Throw<AgentErrorException>(() => ExecFifo.Release(path)).Kind.ShouldBe(AgentErrorKind.FailedPrecondition);
            File.Exists(path).ShouldBeTrue();
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Poststart_hooks_would_need_crun_start_but_the_written_config_never_has_any()
    {
        var spec = BusyboxBundle.SpecObject("true");
        spec["hooks"] = new JsonObject { ["poststart"] = new JsonArray(new JsonObject { ["path"] = "/bin/true" }) };

        var (config, _) = OciSpec.RewriteConfig(Encoding.UTF8.GetBytes(spec.ToJsonString()), "/r", terminal: false,
            PodNamespaces.Standalone, "/b");

        JsonNode.Parse(config)!.AsObject().ContainsKey("hooks").ShouldBeFalse("hooks name host binaries: the agent drops them (docs/agent-api.md)");
    }

    // Not the mkfifo command: System.Diagnostics.Process fails fast once a ContainerManager's reaper runs in this process.
    private static void Mkfifo(string path) => mkfifo(path, 0x180 /* 0600 */).ShouldBe(0);

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int mkfifo(string path, uint mode);
}
