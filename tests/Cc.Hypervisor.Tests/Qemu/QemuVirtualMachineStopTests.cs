using Cc.Hypervisor.Qemu;
using Cc.TestKit;

namespace Cc.Hypervisor.Tests.Qemu;

/// <summary>
/// Stop and exit reporting against fake-qemu.py, a stand-in that speaks QMP but ignores quit and
/// SIGTERM, so the escalation to SIGKILL is what ends it.
/// </summary>
public sealed class QemuVirtualMachineStopTests : IDisposable
{
    private static readonly HostCapabilities Host = new(KvmUsable: false, QbootPath: null, TscKhz: null, VhostVsock: false);
    private readonly string _scratch = Directory.CreateTempSubdirectory("cc-vm-").FullName;

    // Starting the stand-in is a Python interpreter's start: seconds on a loaded 2-core host (load 80+ took it past
    // 10 s). A bound against a hang, not a speed check: nothing here waits for it to pass.
    private static readonly TimeSpan StartBound = TimeSpan.FromSeconds(60);

    private string Run => Path.Combine(_scratch, "run");

    private VmConfig Config()
    {
        string kernel = Path.Combine(_scratch, "vmlinux");
        File.WriteAllText(kernel, "");
        return new VmConfig
        {
            QemuPath = Path.Combine(AppContext.BaseDirectory, "Qemu", "fake-qemu.py"),
            Kernel = new KernelConfig { Path = kernel, InitramfsPath = kernel },
            RunDirectory = Run,
            ConsoleLogPath = Path.Combine(_scratch, "console.log"),
            StartTimeout = StartBound,
        };
    }

    [Fact]
    public async Task A_QEMU_that_ignores_quit_is_killed_after_the_grace_period_and_every_stop_caller_sees_the_same_end()
    {
        var hypervisor = new QemuHypervisor(host: Host);
        await using QemuVirtualMachine vm = await hypervisor.StartAsync(Config(), CancellationToken.None).WithTimeout(StartBound + Bounded.Default);
        (await vm.QueryStatusAsync(CancellationToken.None).WithTimeout()).ShouldBe("running");

        Task first = vm.StopAsync(TimeSpan.FromMilliseconds(300), CancellationToken.None);
        Task second = vm.StopAsync(TimeSpan.FromMinutes(5), CancellationToken.None);
        await Task.WhenAll(first, second).WithTimeout();

        (await vm.Exited.WithTimeout()).ShouldBe(new VmExit(137, "killed (SIGKILL) by the driver's stop"));
        Directory.Exists($"/proc/{vm.Pid}").ShouldBeFalse();
    }

    [Fact]
    public async Task Dispose_ends_the_process_and_removes_the_run_directory_but_keeps_a_console_log_kept_outside_it()
    {
        var hypervisor = new QemuHypervisor(host: Host);
        VmConfig config = Config();
        QemuVirtualMachine vm = await hypervisor.StartAsync(config, CancellationToken.None).WithTimeout(StartBound + Bounded.Default);
        File.Exists(Path.Combine(Run, "qmp.sock")).ShouldBeTrue();

        await vm.DisposeAsync().WithTimeout(QemuVirtualMachine.DisposeGrace + Bounded.Default);
        await vm.DisposeAsync().WithTimeout();

        Directory.Exists($"/proc/{vm.Pid}").ShouldBeFalse();
        Directory.Exists(Run).ShouldBeFalse();
        File.ReadAllText(config.ConsoleLogPath!).ShouldContain("qemu: fake-qemu: serving QMP on " + Path.Combine(Run, "qmp.sock"));
    }

    [Fact]
    public async Task A_QEMU_killed_by_someone_else_exits_with_128_plus_the_signal_and_says_so()
    {
        var hypervisor = new QemuHypervisor(host: Host);
        await using QemuVirtualMachine vm = await hypervisor.StartAsync(Config(), CancellationToken.None).WithTimeout(StartBound + Bounded.Default);

        System.Diagnostics.Process.GetProcessById(vm.Pid).Kill();

        (await vm.Exited.WithTimeout()).ShouldBe(new VmExit(137, "killed by signal 9"));
    }

    [Fact]
    public async Task Cancelling_a_stop_abandons_the_wait_but_not_the_stop()
    {
        var hypervisor = new QemuHypervisor(host: Host);
        await using QemuVirtualMachine vm = await hypervisor.StartAsync(Config(), CancellationToken.None).WithTimeout(StartBound + Bounded.Default);
        using var cts = new CancellationTokenSource();

        Task stop = vm.StopAsync(TimeSpan.FromMilliseconds(500), cts.Token);
        await cts.CancelAsync();

        await Should.ThrowAsync<OperationCanceledException>(() => stop.WithTimeout());
        (await vm.Exited.WithTimeout()).ExitCode.ShouldBe(137);
    }

    public void Dispose() => Directory.Delete(_scratch, recursive: true);
}
