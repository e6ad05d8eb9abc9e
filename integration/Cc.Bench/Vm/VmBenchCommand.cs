using System.Globalization;
using Cc.Hypervisor;
using Cc.Hypervisor.Qemu;

namespace Cc.Bench.Vm;

/// <summary>
/// <c>Cc.Bench vm</c>: QEMU start → agent ready (first answered Check) and → first stdout byte of an
/// <c>echo hello</c> container (busybox rootfs over 9p), side by side with the bare floor (floor.cpio, the
/// same kernel and modules, a busybox /init that prints CC-FLOOR-READY), as ratios. Both boot through the
/// QEMU driver with its defaults (q35, PVH vmlinux, qboot, 256 MiB, 1 vCPU) and the same config but the
/// initramfs, timed with the same clock from just before <see cref="QemuHypervisor.StartAsync"/>.
/// Rounds are interleaved (floor, then agent) so a change in the machine's load falls on both.
/// Options: --runs N (5), --guest DIR (build/guest), --accel tcg|kvm|auto (tcg: /dev/kvm can exist
/// where KVM hangs, as 20-vm-floor.sh notes), --boot-timeout S (120), --out FILE (also write the table there),
/// --baseline-guest DIR (also boot the agent of another build's guest directory in every round, after ours: before and
/// after in one run), --baseline-probe periodic (instead: boot this guest again in every round, its agent probed only
/// every second, as before the probe on the port's open: before and after of the host side in one run).
/// </summary>
public static class VmBenchCommand
{
    public static BenchCommand Command { get; } = new("vm", "QEMU start to agent ready and first container output vs the bare floor", RunAsync);

    private static async Task<int> RunAsync(BenchArgs args, CancellationToken cancellationToken)
    {
        var runs = args.GetInt("runs", 5);
        var guest = Path.GetFullPath(args.Get("guest", "build/guest"));
        var accel = args.Get("accel", "tcg") switch
        {
            "tcg" => Accelerator.Tcg,
            "kvm" => Accelerator.Kvm,
            "auto" => Accelerator.Auto,
            var other => throw new ArgumentException($"--accel must be tcg, kvm or auto, not \"{other}\""),
        };
        var bootTimeout = args.GetSeconds("boot-timeout", 120);
        if (runs < 1)
        {
            throw new ArgumentException("--runs must be at least 1");
        }

        foreach (var file in (string[])["vmlinux", "initramfs.cpio", "floor.cpio", "kernel-version"])
        {
            if (!File.Exists(Path.Combine(guest, file)))
            {
                throw new ArgumentException($"{Path.Combine(guest, file)} is missing: run `make build guest`");
            }
        }

        var baselineGuest = args.Get("baseline-guest") is { } dir ? Path.GetFullPath(dir) : null;
        if (baselineGuest is not null && !File.Exists(Path.Combine(baselineGuest, "initramfs.cpio")))
        {
            throw new ArgumentException($"{Path.Combine(baselineGuest, "initramfs.cpio")} is missing");
        }
        var periodicBaseline = args.Get("baseline-probe") switch
        {
            null => false,
            "periodic" => true,
            var other => throw new ArgumentException($"--baseline-probe must be periodic, not \"{other}\""),
        };
        if (periodicBaseline && baselineGuest is not null)
        {
            throw new ArgumentException("--baseline-guest and --baseline-probe each make the baseline: give one");
        }

        var hypervisor = new QemuHypervisor();
        var guestRuns = new GuestRuns(hypervisor, guest, accel, bootTimeout);
        // The baseline boots its own initramfs on our kernel, so the two agent rows differ only in the initramfs.
        var baselineRuns = baselineGuest is not null
            ? new GuestRuns(hypervisor, guest, accel, bootTimeout, Path.Combine(baselineGuest, "initramfs.cpio"))
            : periodicBaseline ? new GuestRuns(hypervisor, guest, accel, bootTimeout, probeOnPortOpen: false)
            : null;
        var baselineName = baselineGuest ?? "this guest, periodic probe only";
        var loadBefore = LoadAverage();
        List<BootSample> floor = [], agent = [], baseline = [];
        int floorFailed = 0, agentFailed = 0, baselineFailed = 0;
        for (var round = 1; round <= runs; round++)
        {
            floorFailed += await MeasureAsync("floor", round, guestRuns.FloorAsync, floor, cancellationToken).ConfigureAwait(false);
            agentFailed += await MeasureAsync("agent", round, guestRuns.AgentAsync, agent, cancellationToken).ConfigureAwait(false);
            if (baselineRuns is not null)
            {
                baselineFailed += await MeasureAsync("baseline agent", round, baselineRuns.AgentAsync, baseline, cancellationToken).ConfigureAwait(false);
            }
        }

        var report = new VmBenchReport(floor, agent, floorFailed, agentFailed,
            baselineRuns is null ? null : (baseline, baselineFailed, baselineName));
        var heading = string.Create(CultureInfo.InvariantCulture,
            $"### VM boot: agent vs bare floor — {DateTime.UtcNow:yyyy-MM-dd}, {runs} runs each, {Describe(accel, hypervisor.Host)}, " +
            $"kernel {File.ReadAllText(Path.Combine(guest, "kernel-version")).Trim()}, {Environment.ProcessorCount} cores, " +
            $"load average {loadBefore} → {LoadAverage()} (a shared machine: TCG boot time is CPU time and follows the load)");
        var table = heading + "\n\n" + report.Render() + "\n" + "Where the time goes (medians; docs/performance.md, \"Where a cold start goes\"):\n\n"
            + BootTimelineReport.Render(floor, agent, baselineRuns is null ? null : baseline);
        await Console.Out.WriteLineAsync(table).ConfigureAwait(false);
        if (args.Get("out") is { } outPath)
        {
            await File.WriteAllTextAsync(outPath, table, cancellationToken).ConfigureAwait(false);
        }

        return floor.Count > 0 && agent.Count > 0 ? 0 : 1;
    }

    // A failed run is counted and reported, not fatal: one hung boot on a loaded machine should not lose
    // the other runs. Cancellation (Ctrl+C, SIGTERM) ends the whole bench (BenchCli prints "cancelled", exit 130).
    private static async Task<int> MeasureAsync(string name, int round, Func<CancellationToken, Task<BootSample>> run,
        List<BootSample> samples, CancellationToken cancellationToken)
    {
        try
        {
            var sample = await run(cancellationToken).ConfigureAwait(false);
            samples.Add(sample);
            var first = sample.FirstOutputMs is { } ms ? string.Create(CultureInfo.InvariantCulture, $", first output {ms:0} ms") : "";
            await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"vm bench: round {round} {name}: qmp {sample.QmpMs:0} ms, ready {sample.ReadyMs:0} ms{first}")).ConfigureAwait(false);
            return 0;
        }
        catch (Exception e) when (cancellationToken.IsCancellationRequested)
        {
            // Cancelled mid-run: the call in flight fails with whatever its layer reports (a ttrpc
            // Cancelled, say); the VM is already disposed. End the bench as cancelled, not as a failed run.
            throw new OperationCanceledException("the vm bench was cancelled", e, cancellationToken);
        }
        catch (Exception e)
        {
            await Console.Error.WriteLineAsync($"vm bench: round {round} {name} failed: {e.GetType().Name}: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    private static string Describe(Accelerator accel, HostCapabilities host) => accel switch
    {
        Accelerator.Auto => host.KvmUsable ? "auto (KVM)" : "auto (TCG)",
        _ => accel.ToString().ToUpperInvariant(),
    } + (host.QbootPath is null ? ", SeaBIOS" : ", qboot");

    private static string LoadAverage() => File.ReadAllText("/proc/loadavg").Split(' ')[0];
}
