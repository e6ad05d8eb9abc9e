using Cc.Agent.Protocol.V1;
using Cc.TestKit;
using Cc.Ttrpc;
using Google.Protobuf;

namespace Cc.Integration.Vm;

/// <summary>Boots one guest for the class (a TCG boot costs seconds) and shares it between the facts.</summary>
public sealed class AgentVmFixture : IAsyncLifetime
{
    public AgentVm Vm { get; private set; } = null!;

    public async Task InitializeAsync() => Vm = await AgentVm.BootAsync();

    public async Task DisposeAsync() => await Vm.DisposeAsync();
}

/// <summary>
/// The agent as PID 1 of a real guest (QEMU TCG, build/guest/), driven over virtio-serial: containers
/// from a busybox rootfs shared by 9p, run by crun inside the VM.
/// </summary>
public sealed class AgentInVmTests(AgentVmFixture fixture) : IClassFixture<AgentVmFixture>
{
    private readonly AgentVm _vm = fixture.Vm;

    [Fact]
    public async Task A_container_sees_the_guest_kernel_and_the_agent_reports_the_share_mounted()
    {
        var details = await _vm.Client.GetGuestDetailsAsync(new GetGuestDetailsRequest()).WithTimeout(AgentVm.CallTimeout);
        details.KernelRelease.ShouldBe(_vm.KernelVersion);
        details.SharedMounted.ShouldBeTrue(_vm.Console());

        await _vm.RunAsync("uname", ["uname", "-r"]);

        (await _vm.ReadToEndAsync("uname")).ShouldBe(_vm.KernelVersion + "\n", _vm.Console());
        (await _vm.WaitAsync("uname")).ShouldBe(0u);
    }

    [Fact]
    public async Task Exit_codes_arrive_exactly_3_for_exit_3_and_137_for_SIGKILL()
    {
        await _vm.RunAsync("three", ["sh", "-c", "echo bye >&2; exit 3"]);
        (await _vm.ReadToEndAsync("three", stderr: true)).ShouldBe("bye\n");
        (await _vm.WaitAsync("three")).ShouldBe(3u);

        await _vm.RunAsync("sleeper", ["sleep", "100"]);
        await _vm.Client.SignalProcessAsync(new SignalProcessRequest { ContainerId = "sleeper", Signal = 9 }).WithTimeout(AgentVm.CallTimeout);
        (await _vm.WaitAsync("sleeper")).ShouldBe(137u);
    }

    [Fact]
    public async Task An_exec_with_stdin_echoes_what_the_host_writes()
    {
        await _vm.RunAsync("host", ["sleep", "100"]);
        await _vm.Client.ExecProcessAsync(new ExecProcessRequest
        {
            ContainerId = "host",
            ExecId = "cat",
            OciProcessJson = ByteString.CopyFromUtf8(AgentVm.Process("cat").ToJsonString()),
            Stdio = new StdioOptions { Stdin = true },
        }).WithTimeout(AgentVm.CallTimeout);

        await _vm.Client.WriteStdinAsync(new WriteStdinRequest { ContainerId = "host", ExecId = "cat", Data = ByteString.CopyFromUtf8("ping\n") })
            .WithTimeout(AgentVm.CallTimeout);
        await _vm.Client.CloseStdinAsync(new CloseStdinRequest { ContainerId = "host", ExecId = "cat" }).WithTimeout(AgentVm.CallTimeout);

        (await _vm.ReadToEndAsync("host", "cat")).ShouldBe("ping\n");
        (await _vm.WaitAsync("host", "cat")).ShouldBe(0u);
        var list = await _vm.Client.ListProcessesAsync(new ListProcessesRequest { ContainerId = "host" }).WithTimeout(AgentVm.CallTimeout);
        list.Processes.ShouldContain(p => p.CommandLine == "sleep 100");
    }

    [Fact]
    public async Task A_terminal_container_reports_the_size_set_by_ResizePty()
    {
        await _vm.RunAsync("tty", ["sh", "-c", "read line; stty size"], terminal: true, stdin: true);

        await _vm.Client.ResizePtyAsync(new ResizePtyRequest { ContainerId = "tty", Columns = 77, Rows = 33 }).WithTimeout(AgentVm.CallTimeout);
        await _vm.Client.WriteStdinAsync(new WriteStdinRequest { ContainerId = "tty", Data = ByteString.CopyFromUtf8("\n") })
            .WithTimeout(AgentVm.CallTimeout);

        (await _vm.ReadToEndAsync("tty")).ShouldContain("33 77");
        (await _vm.WaitAsync("tty")).ShouldBe(0u);
    }

    [Fact]
    public async Task A_running_container_has_cgroup_stats_and_pauses_and_resumes()
    {
        await _vm.RunAsync("frozen", ["sleep", "100"]);

        var stats = await _vm.Client.StatsContainerAsync(new StatsContainerRequest { ContainerId = "frozen" }).WithTimeout(AgentVm.CallTimeout);
        stats.PidsCurrent.ShouldBeGreaterThanOrEqualTo(1ul, _vm.Console());
        stats.MemoryCurrent.ShouldBeGreaterThan(0ul);

        await _vm.Client.PauseContainerAsync(new PauseContainerRequest { ContainerId = "frozen" }).WithTimeout(AgentVm.CallTimeout);
        var twice = await Should.ThrowAsync<TtrpcException>(() =>
            _vm.Client.PauseContainerAsync(new PauseContainerRequest { ContainerId = "frozen" }).WithTimeout(AgentVm.CallTimeout));
        twice.Code.ShouldBe(StatusCode.FailedPrecondition);
        await _vm.Client.ResumeContainerAsync(new ResumeContainerRequest { ContainerId = "frozen" }).WithTimeout(AgentVm.CallTimeout);

        // SIGKILL: the init is pid 1 of its namespace, where a default-disposition SIGTERM is ignored.
        await _vm.Client.SignalProcessAsync(new SignalProcessRequest { ContainerId = "frozen", Signal = 9, All = true }).WithTimeout(AgentVm.CallTimeout);
        (await _vm.WaitAsync("frozen")).ShouldBe(137u);
    }

    [Fact]
    public async Task CreateSandbox_sets_the_guest_clock_and_hostname_and_SetTime_sets_the_clock_back()
    {
        var ahead = DateTimeOffset.UtcNow.AddHours(1);
        await _vm.Client.CreateSandboxAsync(new CreateSandboxRequest
        {
            SandboxId = "pod",
            Hostname = "cc-pod",
            HostTime = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(ahead),
        }).WithTimeout(AgentVm.CallTimeout);
        try
        {
            var guestTime = (await _vm.Client.GetGuestDetailsAsync(new GetGuestDetailsRequest()).WithTimeout(AgentVm.CallTimeout)).Time.ToDateTimeOffset();
            (guestTime - ahead).Duration().ShouldBeLessThan(TimeSpan.FromMinutes(2));

            // No UTS namespace (and so no spec hostname): the container sees the guest's hostname.
            var spec = AgentVm.Spec("cat", "/proc/sys/kernel/hostname");
            spec.Remove("hostname");
            var namespaces = spec["linux"]!["namespaces"]!.AsArray();
            namespaces.Remove(namespaces.Single(n => n!["type"]!.GetValue<string>() == "uts"));
            await _vm.Client.CreateContainerAsync(new CreateContainerRequest
            {
                ContainerId = "hostname",
                OciSpecJson = ByteString.CopyFromUtf8(spec.ToJsonString()),
                RootfsPath = _vm.MakeRootfs("hostname"),
            }).WithTimeout(AgentVm.CallTimeout);
            await _vm.Client.StartContainerAsync(new StartContainerRequest { ContainerId = "hostname" }).WithTimeout(AgentVm.CallTimeout);
            (await _vm.ReadToEndAsync("hostname")).ShouldBe("cc-pod\n");
        }
        finally
        {
            await _vm.Client.SetTimeAsync(new SetTimeRequest
            {
                HostTime = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
            }).WithTimeout(AgentVm.CallTimeout);
        }

        var restored = (await _vm.Client.GetGuestDetailsAsync(new GetGuestDetailsRequest()).WithTimeout(AgentVm.CallTimeout)).Time.ToDateTimeOffset();
        (restored - DateTimeOffset.UtcNow).Duration().ShouldBeLessThan(TimeSpan.FromMinutes(2));
    }

    [Fact]
    public async Task An_unknown_container_is_NotFound_across_the_vm_boundary()
    {
        var error = await Should.ThrowAsync<TtrpcException>(() =>
            _vm.Client.StartContainerAsync(new StartContainerRequest { ContainerId = "absent" }).WithTimeout(AgentVm.CallTimeout));
        error.Code.ShouldBe(StatusCode.NotFound);
    }

    /// <summary>
    /// The agent answers the host with only the boot modules loaded and loads the rest in the background; a container
    /// still finds every module of the image loaded (a workload may mount overlay or make a bridge at once), because
    /// CreateContainer waits for them. /proc/modules is the guest kernel's, whatever the container's namespaces.
    /// </summary>
    [Fact]
    public async Task A_container_finds_the_modules_loaded_after_ready_already_loaded()
    {
        await _vm.RunAsync("modules", ["cat", "/proc/modules"]);
        var loaded = (await _vm.ReadToEndAsync("modules")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ')[0]).ToList();
        (await _vm.WaitAsync("modules")).ShouldBe(0u);
        // A module the kernel has built in is not in /proc/modules (Debian 13's 6.12: virtio_console, virtiofs); the
        // image's manifest names those ("builtin-modules", hack/build-guest.sh).
        var builtin = File.ReadLines(Path.Combine(AgentVm.GuestDirectory, "manifest.txt"))
            .Where(line => line.StartsWith("builtin-modules", StringComparison.Ordinal))
            .SelectMany(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1))
            .ToList();

        foreach (var name in ((string[])["virtio_net", "virtio_balloon", "virtio_mem", "overlay", "bridge", "virtiofs", "virtio_console", "9p"]).Except(builtin))
        {
            loaded.ShouldContain(name, string.Join(' ', loaded));
        }
    }

    [Fact]
    public async Task The_boot_timeline_puts_the_kernel_the_agent_and_the_first_container_in_causal_order()
    {
        await _vm.RunAsync("timeline", ["true"]);
        (await _vm.WaitAsync("timeline")).ShouldBe(0u);

        var steps = (await _vm.Client.GetGuestDetailsAsync(new GetGuestDetailsRequest()).WithTimeout(AgentVm.CallTimeout))
            .BootTimeline.ToDictionary(s => s.Name, s => s.Seconds);
        // Each step happened after the one before it, whichever container of this VM was its first (docs/performance.md).
        // Two groups: the kernel's log clock (sched_clock) and CLOCK_MONOTONIC both start near the kernel's start, but
        // not at the same instant, so steps are compared only within their own clock.
        string[][] groups =
        [
            ["kernel: initramfs unpacked", "kernel: runs /init"],
            [
                "PID 1 created (kernel_init, before it runs /init)", "agent main entered", "boot modules loaded", "agent ready", "first ready Check answered",
                "CreateContainer received", "crun create spawned", "crun create exited", "CreateContainer answered",
                "StartContainer received", "init released (exec fifo written)", "StartContainer answered",
            ],
            // The rest of the modules load after ready, and the first container waits for them.
            ["agent ready", "deferred modules loaded (background)", "deferred modules awaited by a request", "crun create spawned"],
        ];
        var all = string.Join(", ", steps.Select(p => $"{p.Key}={p.Value}"));
        foreach (var order in groups)
        {
            foreach (var step in order)
            {
                steps.ShouldContainKey(step, all);
            }
            steps[order[0]].ShouldBeGreaterThan(0, all);
            for (var i = 1; i < order.Length; i++)
            {
                steps[order[i]].ShouldBeGreaterThanOrEqualTo(steps[order[i - 1]], $"{order[i]} before {order[i - 1]}: {all}");
            }
        }
    }
}

/// <summary>The host side going away and coming back, and the tear-down of a guest: each on its own VM.</summary>
public sealed class AgentVmShutdownTests
{
    [Fact]
    public async Task After_the_host_disconnects_a_new_connection_is_served_and_the_containers_are_still_there()
    {
        await using var vm = await AgentVm.BootAsync();
        var pid = await vm.RunAsync("survivor", ["sleep", "100"]);

        await vm.Client.Connection.DisposeAsync();
        var again = await Cc.Agent.Protocol.AgentConnector.ConnectAsync(vm.Machine.Agent.ToString()!, AgentVm.BootTimeout);
        try
        {
            var list = await again.ListProcessesAsync(new ListProcessesRequest { ContainerId = "survivor" }).WithTimeout(AgentVm.CallTimeout);
            list.Processes.Select(p => p.Pid).ShouldBe([pid]);
            await again.SignalProcessAsync(new SignalProcessRequest { ContainerId = "survivor", Signal = 9 }).WithTimeout(AgentVm.CallTimeout);
            (await again.WaitProcessAsync(new WaitProcessRequest { ContainerId = "survivor" }).WithTimeout(AgentVm.CallTimeout))
                .ExitStatus.ShouldBe(137u);
        }
        finally
        {
            await again.Connection.DisposeAsync();
        }
    }

    [Fact]
    public async Task DestroySandbox_then_stop_leaves_no_QEMU_no_socket_and_no_mount()
    {
        var vm = await AgentVm.BootAsync();
        int pid = vm.Machine.Pid;
        string scratch = vm.Scratch;
        try
        {
            await vm.RunAsync("live", ["sleep", "100"]);
            var destroyed = await vm.Client.DestroySandboxAsync(new DestroySandboxRequest()).WithTimeout(AgentVm.CallTimeout);
            destroyed.RemovedContainers.ShouldBe(1);
        }
        finally
        {
            await vm.DisposeAsync();
        }

        Directory.Exists($"/proc/{pid}").ShouldBeFalse($"QEMU pid {pid} is still there");
        Directory.Exists(vm.RunDirectory).ShouldBeFalse("the run directory with agent.sock and qmp.sock must be gone");
        File.ReadAllText("/proc/self/mounts").ShouldNotContain(scratch);
        Directory.Exists(scratch).ShouldBeFalse();
    }
}
