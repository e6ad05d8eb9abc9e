using System.Diagnostics;
using System.Globalization;
using System.Text;
using Cc.Agent.Protocol;
using Cc.Agent.Protocol.V1;
using Cc.Hypervisor;
using Cc.Hypervisor.Qemu;
using Cc.Hypervisor.Qmp;
using Cc.Ttrpc;
using Google.Protobuf;

namespace Cc.Bench.Vm;

/// <summary>Times, in ms from just before <see cref="QemuHypervisor.StartAsync"/>: QMP answering (the driver's
/// StartAsync returns), and the run's goal (the floor's marker, or the agent's Check). <see cref="GuestSteps"/>: the
/// guest's own clock (seconds since its kernel started) at each step: the agent's boot timeline (GetGuestDetails), or
/// the floor's /init start and marker.</summary>
/// <see cref="CpuReadyMs"/> and <see cref="CpuFirstOutputMs"/>: QEMU's CPU time at the goal and at the first output
/// (<see cref="QemuCpuTime"/>). <see cref="PortOpenSeenMs"/>: when the host saw QEMU's VSERPORT_CHANGE for the agent
/// port's open (the bench's own QMP subscription, which wakes nothing in QEMU).
internal readonly record struct BootSample(double QmpMs, double ReadyMs, double? FirstOutputMs = null,
    IReadOnlyList<(string Step, double Seconds)>? GuestSteps = null, double? CpuReadyMs = null, double? CpuFirstOutputMs = null,
    double? PortOpenSeenMs = null);

/// <summary>
/// One boot each, through the QEMU driver with the same <see cref="VmConfig"/> but for the initramfs, so
/// the floor and the agent differ only in what runs as /init. Every run stops and disposes its VM
/// (no QEMU, socket or run directory is left), also when it fails or is cancelled.
/// </summary>
/// <paramref name="agentInitramfs"/>: the agent's archive, when not the guest directory's own (a baseline build's).
/// <paramref name="probeOnPortOpen"/>: probe the agent the moment the guest opens its port, as the shim does; false
/// probes only periodically (the shim before that signal: a baseline).
internal sealed class GuestRuns(QemuHypervisor hypervisor, string guestDirectory, Accelerator accel, TimeSpan bootTimeout,
    string? agentInitramfs = null, bool probeOnPortOpen = true)
{
    public const string FloorMarker = "CC-FLOOR-READY";
    private static readonly TimeSpan s_consolePoll = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan s_stopGrace = TimeSpan.FromSeconds(5);

    /// <summary>floor.cpio: QEMU start → "CC-FLOOR-READY" on the console (busybox /init after insmod).</summary>
    public async Task<BootSample> FloorAsync(CancellationToken cancellationToken)
    {
        using var scratch = new Scratch();
        var config = Config(scratch, "floor.cpio");
        var start = Stopwatch.GetTimestamp();
        await using var vm = await hypervisor.StartAsync(config, cancellationToken).ConfigureAwait(false);
        var qmp = Stopwatch.GetElapsedTime(start);
        using var bounded = Bound(cancellationToken);
        var marker = await WaitForConsoleLineAsync(config.ConsoleLogPath!, FloorMarker, vm.Exited, bounded.Token).ConfigureAwait(false);
        var ready = Stopwatch.GetElapsedTime(start);
        var cpuReady = QemuCpuTime.Milliseconds(vm.Pid);
        if (File.ReadAllText(config.ConsoleLogPath!).Contains("CC-FLOOR-MODULE-FAILED", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"the floor guest failed to load a module: {scratch.ConsoleTail()}");
        }

        // The floor powers off right after the marker; QEMU's exit is not on the clock.
        await vm.Exited.WaitAsync(bootTimeout, cancellationToken).ConfigureAwait(false);
        return new BootSample(qmp.TotalMilliseconds, ready.TotalMilliseconds, GuestSteps: FloorSteps(marker), CpuReadyMs: cpuReady);
    }

    /// <summary>initramfs.cpio: QEMU start → first answered Check → first stdout byte of <c>echo hello</c>.</summary>
    public async Task<BootSample> AgentAsync(CancellationToken cancellationToken)
    {
        using var scratch = new Scratch();
        var rootfs = BusyboxBundle.Create(scratch.Shared, "hello");
        var config = Config(scratch, agentInitramfs ?? "initramfs.cpio");
        var start = Stopwatch.GetTimestamp();
        await using var vm = await hypervisor.StartAsync(config, cancellationToken).ConfigureAwait(false);
        var qmp = Stopwatch.GetElapsedTime(start);
        using var bounded = Bound(cancellationToken);
        var portOpenSeen = PortOpenSeenAsync((QemuVirtualMachine)vm, start, bounded.Token);
        AgentClient agent;
        try
        {
            agent = await AgentConnector.ConnectAsync(vm.Agent.ToString()!, bootTimeout,
                guestPortOpened: probeOnPortOpen && vm.AgentPortOpens is { } opens ? opens.NextOpenAsync : null,
                cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            throw new InvalidOperationException($"{e.Message}; console: {scratch.ConsoleTail()}", e);
        }

        var ready = Stopwatch.GetElapsedTime(start);
        var cpuReady = QemuCpuTime.Milliseconds(vm.Pid);
        await using (agent.Connection.ConfigureAwait(false))
        {
            var call = new CallOptions(CancellationToken: bounded.Token);
            await agent.CreateContainerAsync(new CreateContainerRequest
            {
                ContainerId = "hello",
                OciSpecJson = ByteString.CopyFromUtf8(BusyboxBundle.SpecJson),
                RootfsPath = rootfs,
            }, call).ConfigureAwait(false);
            await agent.StartContainerAsync(new StartContainerRequest { ContainerId = "hello" }, call).ConfigureAwait(false);
            // ReadStdout is a long-poll: it answers with the first bytes the container writes.
            var output = new StringBuilder();
            var first = await agent.ReadStdoutAsync(new ReadStreamRequest { ContainerId = "hello", MaxBytes = 4096 }, call).ConfigureAwait(false);
            var firstOutput = Stopwatch.GetElapsedTime(start);
            var cpuFirstOutput = QemuCpuTime.Milliseconds(vm.Pid);
            for (var chunk = first; !chunk.Data.IsEmpty;
                 chunk = await agent.ReadStdoutAsync(new ReadStreamRequest { ContainerId = "hello", MaxBytes = 4096 }, call).ConfigureAwait(false))
            {
                output.Append(chunk.Data.ToStringUtf8());
            }

            var exit = await agent.WaitProcessAsync(new WaitProcessRequest { ContainerId = "hello" }, call).ConfigureAwait(false);
            if (output.ToString() != BusyboxBundle.ExpectedOutput || exit.ExitStatus != 0)
            {
                throw new InvalidOperationException(
                    $"echo hello wrote \"{output}\" and exited {exit.ExitStatus}; console: {scratch.ConsoleTail()}");
            }

            // The guest's side of the same boot, read after the clock stopped (docs/performance.md, "Where a cold start goes").
            var details = await agent.GetGuestDetailsAsync(new GetGuestDetailsRequest(), call).ConfigureAwait(false);
            await vm.StopAsync(s_stopGrace, cancellationToken).ConfigureAwait(false);
            double? seen = portOpenSeen.IsCompletedSuccessfully ? portOpenSeen.Result : null;
            return new BootSample(qmp.TotalMilliseconds, ready.TotalMilliseconds, firstOutput.TotalMilliseconds,
                [.. details.BootTimeline.Select(step => (step.Name, step.Seconds))], cpuReady, cpuFirstOutput, seen);
        }
    }

    /// <summary>Ms from <paramref name="start"/> to the host's sight of the guest opening its agent port.</summary>
    private static async Task<double> PortOpenSeenAsync(QemuVirtualMachine vm, long start, CancellationToken cancellationToken)
    {
        var opens = new VirtioSerialPortOpens(Cc.Hypervisor.Qemu.Devices.VirtioSerialAgentDevice.PortDeviceId);
        using var events = vm.Qmp.SubscribeEvents();
        await foreach (var evt in events.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            if (opens.Observe(evt))
            {
                return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        }
        throw new InvalidOperationException("QMP closed before the guest opened its agent port");
    }

    /// <summary>The floor's marker "CC-FLOOR-READY &lt;release&gt; &lt;uptime&gt; init=&lt;uptime&gt;" (hack/guest/floor-init.sh) as
    /// guest steps; an older floor.cpio without the init= word gives only the marker's.</summary>
    internal static IReadOnlyList<(string Step, double Seconds)> FloorSteps(string marker)
    {
        List<(string, double)> steps = [];
        var words = marker.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length > 3 && words[3].StartsWith("init=", StringComparison.Ordinal)
            && double.TryParse(words[3].AsSpan(5), NumberStyles.Float, CultureInfo.InvariantCulture, out var init))
        {
            steps.Add((FloorInitStep, init));
        }
        if (words.Length > 2 && double.TryParse(words[2], NumberStyles.Float, CultureInfo.InvariantCulture, out var up))
        {
            steps.Add((FloorReadyStep, up));
        }
        return steps;
    }

    public const string FloorInitStep = "busybox /init began";
    public const string FloorReadyStep = "every module insmod'ed (CC-FLOOR-READY)";

    private VmConfig Config(Scratch scratch, string initramfs) => new()
    {
        // As the shim boots a cold pod (hypervisor.free_page_reporting's default), for the floor and the agent alike.
        FreePageReporting = true,
        Kernel = new KernelConfig { Path = Path.Combine(guestDirectory, "vmlinux"), InitramfsPath = Path.Combine(guestDirectory, initramfs) },
        Accel = accel,
        RunDirectory = scratch.Run,
        ConsoleLogPath = scratch.ConsoleLog,
        Shared = new SharedDirectory { HostPath = scratch.Shared },
    };

    private CancellationTokenSource Bound(CancellationToken cancellationToken)
    {
        var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(bootTimeout);
        return bounded;
    }

    // Polls the console log (QEMU appends the guest's ttyS0 to it) for a line starting with the marker.
    // A 5 ms poll puts at most 5 ms on a boot of seconds, and needs no inotify on a file QEMU writes.
    private static async Task<string> WaitForConsoleLineAsync(string path, string marker, Task<VmExit> exited, CancellationToken cancellationToken)
    {
        using var log = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(log, Encoding.UTF8);
        var pending = new StringBuilder();
        while (true)
        {
            var text = await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
            pending.Append(text);
            var lines = pending.ToString().Split('\n');
            foreach (var line in lines.AsSpan(0, lines.Length - 1))
            {
                if (line.TrimStart().StartsWith(marker, StringComparison.Ordinal))
                {
                    return line;
                }
            }

            pending.Clear().Append(lines[^1]);
            if (exited.IsCompleted && text.Length == 0)
            {
                throw new InvalidOperationException($"QEMU exited ({await exited.ConfigureAwait(false)}) before {marker}");
            }

            await Task.Delay(s_consolePoll, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A run's private directory: run/ for the driver, shared/ for 9p, console.log kept outside run/
    /// so a failure can show it. Short paths: unix sockets are limited to 107 bytes.</summary>
    private sealed class Scratch : IDisposable
    {
        private readonly string _root = Directory.CreateTempSubdirectory("cc-bench-vm-").FullName;

        public Scratch() => Directory.CreateDirectory(Shared);

        public string Run => Path.Combine(_root, "run");
        public string Shared => Path.Combine(_root, "shared");
        public string ConsoleLog => Path.Combine(_root, "console.log");

        public string ConsoleTail()
        {
            var text = File.Exists(ConsoleLog) ? File.ReadAllText(ConsoleLog) : "(no console log)";
            return text.Length > 2000 ? "..." + text[^2000..] : text;
        }

        public void Dispose()
        {
            try
            {
                Directory.Delete(_root, recursive: true);
            }
            catch (IOException)
            {
                // a file still held open; /tmp is cleaned by the machine
            }
        }
    }
}
