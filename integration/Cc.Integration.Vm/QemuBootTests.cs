using Cc.Hypervisor;
using Cc.Hypervisor.Qemu;
using Cc.TestKit;

namespace Cc.Integration.Vm;

/// <summary>
/// The QEMU driver against real QEMU (TCG here) and the floor guest of build/guest/: boot, QMP,
/// the console log, both ways a VM ends, and that nothing is left behind.
/// </summary>
public sealed class QemuBootTests
{
    // A TCG boot takes 2-6 s on the project's 2-core machine; the bound allows for a loaded machine.
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task A_floor_vm_boots_to_the_marker_answers_query_status_and_leaves_nothing_after_stop_and_dispose()
    {
        using var env = QemuTestEnvironment.Create();
        var hypervisor = new QemuHypervisor();
        QemuVirtualMachine vm = await hypervisor.StartAsync(env.FloorConfig(), CancellationToken.None).WithTimeout(BootTimeout);
        int pid = vm.Pid;
        try
        {
            // No -S: the vCPUs run from the start, so the status is "running" while the guest boots.
            (await vm.QueryStatusAsync(CancellationToken.None).WithTimeout()).ShouldBe("running");
            vm.Agent.ShouldBe(new VirtioSerialEndpoint(Path.Combine(env.RunDirectory, "agent.sock")));
            File.Exists(Path.Combine(env.RunDirectory, "qmp.sock")).ShouldBeTrue();

            await Bounded.UntilAsync(() => env.ReadConsole().Contains(QemuTestEnvironment.FloorMarker, StringComparison.Ordinal),
                $"the console log shows {QemuTestEnvironment.FloorMarker}", BootTimeout);

            // The floor powers off right after its marker; Stop must cope with either state.
            await vm.StopAsync(StopGrace, CancellationToken.None).WithTimeout(BootTimeout);
            vm.Exited.IsCompleted.ShouldBeTrue();
        }
        finally
        {
            await vm.DisposeAsync().WithTimeout(BootTimeout);
        }
        ProcessIsGone(pid).ShouldBeTrue($"QEMU pid {pid} still exists");
        Directory.Exists(env.RunDirectory).ShouldBeFalse("the run directory (and its sockets) must be removed");
        env.ReadConsole().ShouldContain(QemuTestEnvironment.FloorMarker, customMessage: "the console log outside the run directory survives");
    }

    [Fact]
    public async Task StopAsync_on_a_booting_vm_quits_QEMU_and_reports_host_qmp_quit()
    {
        using var env = QemuTestEnvironment.Create();
        var hypervisor = new QemuHypervisor();
        await using QemuVirtualMachine vm = await hypervisor.StartAsync(env.FloorConfig(), CancellationToken.None).WithTimeout(BootTimeout);
        (await vm.QueryStatusAsync(CancellationToken.None).WithTimeout()).ShouldBe("running");

        Task first = vm.StopAsync(StopGrace, CancellationToken.None);
        Task second = vm.StopAsync(StopGrace, CancellationToken.None);
        await Task.WhenAll(first, second).WithTimeout(BootTimeout);

        VmExit exit = await vm.Exited.WithTimeout();
        exit.ShouldBe(new VmExit(0, "host-qmp-quit"));
        ProcessIsGone(vm.Pid).ShouldBeTrue();
    }

    [Fact]
    public async Task A_guest_that_powers_off_ends_QEMU_with_exit_code_zero_and_reason_guest_shutdown()
    {
        using var env = QemuTestEnvironment.Create();
        var hypervisor = new QemuHypervisor();
        await using QemuVirtualMachine vm = await hypervisor.StartAsync(env.FloorConfig(), CancellationToken.None).WithTimeout(BootTimeout);

        VmExit exit = await vm.Exited.WithTimeout(BootTimeout);

        exit.ShouldBe(new VmExit(0, "guest-shutdown"), env.ReadConsole());
        env.ReadConsole().ShouldContain(QemuTestEnvironment.FloorMarker);
        env.ReadConsole().ShouldNotContain("CC-FLOOR-MODULE-FAILED");
    }

    [Fact]
    public async Task A_microvm_floor_vm_boots_with_virtio_mmio_devices_and_a_virtio_fs_share_and_powers_off()
    {
        using var env = QemuTestEnvironment.Create();
        var hypervisor = new QemuHypervisor();
        // virtio-fs on microvm is the combination that needs modern virtio-mmio (virtiofsd refuses legacy).
        VmConfig config = env.FloorConfig(MachineType.Microvm) with { Shared = new SharedDirectory { HostPath = env.Scratch, Kind = SharedFsKind.VirtioFs } };
        await using QemuVirtualMachine vm = await hypervisor.StartAsync(config, CancellationToken.None).WithTimeout(BootTimeout);

        VmExit exit = await vm.Exited.WithTimeout(BootTimeout);

        exit.ShouldBe(new VmExit(0, "guest-shutdown"), env.ReadConsole());
        env.ReadConsole().ShouldContain(QemuTestEnvironment.FloorMarker);
        env.ReadConsole().ShouldNotContain("CC-FLOOR-MODULE-FAILED");
        // QEMU's stderr lands in the console log as "qemu: ..."; a refused vhost-user backend shows up there.
        env.ReadConsole().ShouldNotContain("qemu: ");
    }

    [Fact]
    public async Task A_virtio_fs_share_runs_virtiofsd_for_the_life_of_the_vm_and_dispose_ends_it()
    {
        using var env = QemuTestEnvironment.Create();
        var hypervisor = new QemuHypervisor();
        VmConfig config = env.FloorConfig() with { Shared = new SharedDirectory { HostPath = env.Scratch, Kind = SharedFsKind.VirtioFs } };
        // virtiofsd alone has this argument (QEMU names the socket in its -chardev instead).
        string socket = "--socket-path=" + Path.Combine(env.RunDirectory, "virtiofsd.sock");

        QemuVirtualMachine vm = await hypervisor.StartAsync(config, CancellationToken.None).WithTimeout(BootTimeout);
        try
        {
            ProcessesMentioning(socket).ShouldNotBeEmpty("virtiofsd serves the share while the VM runs");
            VmExit exit = await vm.Exited.WithTimeout(BootTimeout);
            exit.ShouldBe(new VmExit(0, "guest-shutdown"), env.ReadConsole());
            env.ReadConsole().ShouldContain(QemuTestEnvironment.FloorMarker);
        }
        finally
        {
            await vm.DisposeAsync().WithTimeout(BootTimeout);
        }
        ProcessesMentioning(socket).ShouldBeEmpty();
        Directory.Exists(env.RunDirectory).ShouldBeFalse();
    }

    [Fact]
    public async Task A_qemu_that_rejects_its_command_line_fails_StartAsync_with_its_stderr_and_leaves_no_run_directory()
    {
        using var env = QemuTestEnvironment.Create();
        var hypervisor = new QemuHypervisor();
        VmConfig config = env.FloorConfig() with { ExtraArguments = ["-device", "no-such-device-model"] };

        var error = await Should.ThrowAsync<VmStartException>(() => hypervisor.StartAsync(config, CancellationToken.None).WithTimeout(BootTimeout));

        error.Message.ShouldContain("no-such-device-model");
        Directory.Exists(env.RunDirectory).ShouldBeFalse();
    }

    // Pids whose command line contains text (here: virtiofsd, found by its private socket path).
    private static List<int> ProcessesMentioning(string text)
    {
        var pids = new List<int>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out int pid))
            {
                try
                {
                    if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(text, StringComparison.Ordinal))
                    {
                        pids.Add(pid);
                    }
                }
                catch (IOException)
                {
                    // The process ended while we looked.
                }
            }
        }
        return pids;
    }

    private static bool ProcessIsGone(int pid) => !Directory.Exists($"/proc/{pid}");
}
