using System.Diagnostics;
using System.Globalization;
using System.Text;
using Cc.Agent.Protocol;
using Cc.Agent.Protocol.V1;
using Cc.Hypervisor;
using Cc.Hypervisor.Qemu;
using Cc.Hypervisor.Templates;
using Cc.Ttrpc;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Bench.Vm;

/// <summary>
/// <c>Cc.Bench clone</c>: clones of a template VM (docs/templates.md) through the QEMU driver, as the shim makes them
/// (cc.share=late, the template's host checks its agent and hangs up before the save). One template, booted with
/// --template-tb-size; each clone runs with its own TCG translation cache size (the cache is not in the saved state, so
/// a clone may differ from its template, as the shim's <c>factory.clone_tcg_tb_size_mib</c> does). Per clone: the
/// restore (QEMU start and state load), the agent's first answer with each first-probe timeout, the first stdout byte of
/// an <c>echo hello</c> container after CreateSandbox (a first exec: the guest's code runs through the translation
/// cache), the same for a second container (its code is translated already unless the cache was flushed), and the
/// clone's QEMU PSS then, private and shared. Rounds interleave every variant, so a change of the machine's load falls on
/// all of them. Options: --runs N (3), --guest DIR (build/guest), --tb-sizes 64,32,16 (MiB), --template-tb-size MiB
/// (64), --probes 1000,50 (ms), --memory MiB (512), --boot-timeout S (120), --out FILE. --baseline-guest DIR: a second
/// template from an older image, its clones interleaved with the first's (before/after in one run). A template is saved,
/// as the shim saves it, once its guest's timeline shows its background modules loaded, at most 30 s after its agent
/// answered (a per-guest ready step, so an image that settles later can be given its own).
/// </summary>
public static class CloneBenchCommand
{
    public static BenchCommand Command { get; } = new("clone", "template clones: restore, first agent answer per probe, first exec and PSS per tb-size", RunAsync);

    private static readonly TimeSpan s_loadTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan s_agentBound = TimeSpan.FromSeconds(15);

    private const string DeferredModulesLoadedStep = "deferred modules loaded (background)";
    private static readonly TimeSpan s_templateSettleBound = TimeSpan.FromSeconds(30);

    private sealed record Sample(string Guest, int TbSize, int ProbeMs, double RestoreMs, double AgentMs, double ExecMs, double SecondExecMs,
        double PssMiB, double PrivateMiB, ContainerSteps First, ContainerSteps Second);

    /// <summary>
    /// One container's CreateContainer and StartContainer in a clone: each call's round trip on the host, and on the
    /// guest's clock (the agent's boot timeline, first container only; NaN for the second) the agent's own part before
    /// crun, crun itself, and the agent's part after it.
    /// </summary>
    // The guest's boot-timeline step of an init released through the exec FIFO (Cc.Agent BootTimeline.InitReleased).
    private const string Released = "init released (exec fifo written)";

    private sealed record ContainerSteps(double CreateMs, double StartMs, double CreateBeforeCrunMs, double CrunCreateMs,
        double CreateAfterCrunMs, double StartBeforeCrunMs, double CrunStartMs, double StartAfterCrunMs)
    {
        public static ContainerSteps Timed(double createMs, double startMs) =>
            new(createMs, startMs, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
    }

    private static async Task<int> RunAsync(BenchArgs args, CancellationToken cancellationToken)
    {
        var runs = args.GetInt("runs", 3);
        var guest = Path.GetFullPath(args.Get("guest", "build/guest"));
        List<(string Label, string Directory, string ReadyStep)> guests = [("guest", guest, DeferredModulesLoadedStep)];
        if (args.Get("baseline-guest") is { } baseline)
        {
            guests.Add(("baseline", Path.GetFullPath(baseline), DeferredModulesLoadedStep));
        }
        var tbSizes = Ints(args.Get("tb-sizes", "64,32,16"));
        var templateTbSize = args.GetInt("template-tb-size", 64);
        var probes = Ints(args.Get("probes", "1000,50"));
        var memory = args.GetInt("memory", 512);
        var bootTimeout = args.GetSeconds("boot-timeout", 120);
        var scratch = Directory.CreateTempSubdirectory("cc-bench-clone-").FullName;
        var hypervisor = new QemuHypervisor();
        var factory = new VmTemplateFactory(hypervisor, Path.Combine(scratch, "templates"), NullLogger.Instance);
        var loadBefore = LoadAverage();
        List<Sample> samples = [];
        int failed = 0;
        try
        {
            List<VmTemplate> templates = [];
            foreach (var (label, directory, readyStep) in guests)
            {
                templates.Add(await factory.EnsureAsync(Config(directory, scratch, $"template-{label}", templateTbSize, memory), async (vm, token) =>
                {
                    var agent = await AgentConnector.ConnectAsync(vm.Agent.ToString(), bootTimeout, cancellationToken: token).ConfigureAwait(false);
                    var settled = await WaitForStepAsync(agent, readyStep, token).ConfigureAwait(false);
                    await Console.Error.WriteLineAsync($"clone bench: template of {label}: {(settled ? $"saved after \"{readyStep}\"" : $"\"{readyStep}\" not seen within {s_templateSettleBound.TotalSeconds} s, saved as it is")}").ConfigureAwait(false);
                    return (IAsyncDisposable)agent.Connection;
                }, cancellationToken).ConfigureAwait(false));
            }

            int n = 0;
            for (var round = 1; round <= runs; round++)
            {
                foreach (var tb in tbSizes)
                foreach (var probe in probes)
                foreach (var (index, (label, directory, _)) in guests.Index())
                    {
                        try
                        {
                            var sample = await CloneAsync(factory, templates[index], Config(directory, scratch, $"clone-{n++}", tb, memory), label, tb, probe,
                                cancellationToken).ConfigureAwait(false);
                            samples.Add(sample);
                            await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                                $"clone bench: round {round} {label} tb-size {tb} probe {probe} ms: restore {sample.RestoreMs:0} ms, agent {sample.AgentMs:0} ms, first exec output {sample.ExecMs:0} ms, second {sample.SecondExecMs:0} ms, PSS {sample.PssMiB:0.0} MiB ({sample.PrivateMiB:0.0} private)")).ConfigureAwait(false);
                        }
                        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                        {
                            failed++;
                            await Console.Error.WriteLineAsync($"clone bench: round {round} {label} tb-size {tb} probe {probe} failed: {e.Message}").ConfigureAwait(false);
                        }
                    }
            }
        }
        finally
        {
            factory.DestroyAll();
            Directory.Delete(scratch, recursive: true);
        }

        var table = new StringBuilder(string.Create(CultureInfo.InvariantCulture,
            $"### Template clones — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {runs} rounds, TCG, {memory} MiB, template tb-size {templateTbSize} MiB, {Environment.ProcessorCount} cores, load average {loadBefore} → {LoadAverage()}, {failed} failed\n\n"));
        table.AppendLine("| guest | clone tb-size | first probe | restore (QEMU start + state load) | then agent answer | CreateSandbox + echo hello, first output | a second container: Create + Start | clone QEMU PSS | of it private |");
        table.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var group in samples.GroupBy(s => (s.Guest, s.TbSize, s.ProbeMs)))
        {
            table.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {group.Key.Guest} | {group.Key.TbSize} MiB | {group.Key.ProbeMs} ms | {Range(group, s => s.RestoreMs)} ms | {Range(group, s => s.AgentMs)} ms | {Range(group, s => s.ExecMs)} ms | {Range(group, s => s.SecondExecMs)} ms | {Range(group, s => s.PssMiB, "0.0")} MiB | {Range(group, s => s.PrivateMiB, "0.0")} MiB |"));
        }
        table.AppendLine();
        table.AppendLine("A clone's first container and a second one in the same clone (crun's code then in QEMU's translation cache); host round trips, and the first's guest-clock split (boot timeline):");
        table.AppendLine();
        table.AppendLine("| guest | tb-size | step | first container | second container |");
        table.AppendLine("|---|---|---|---|---|");
        foreach (var group in samples.GroupBy(s => (s.Guest, s.TbSize)))
        {
            void Row(string step, Func<ContainerSteps, double> value) => table.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {group.Key.Guest} | {group.Key.TbSize} MiB | {step} | {Range(group, s => value(s.First))} ms | {(double.IsNaN(value(group.First().Second)) ? "–" : Range(group, s => value(s.Second)) + " ms")} |"));
            Row("CreateContainer, host round trip", c => c.CreateMs);
            Row("  guest: received → crun create spawned", c => c.CreateBeforeCrunMs);
            Row("  guest: crun create", c => c.CrunCreateMs);
            Row("  guest: crun create exited → answered", c => c.CreateAfterCrunMs);
            Row("StartContainer, host round trip", c => c.StartMs);
            Row("  guest: received → init released (or crun start spawned)", c => c.StartBeforeCrunMs);
            Row("  guest: crun start (0: released by the agent)", c => c.CrunStartMs);
            Row("  guest: init released (or crun start exited) → answered", c => c.StartAfterCrunMs);
        }
        await Console.Out.WriteLineAsync(table.ToString()).ConfigureAwait(false);
        if (args.Get("out") is { } outPath)
        {
            await File.WriteAllTextAsync(outPath, table.ToString(), cancellationToken).ConfigureAwait(false);
        }
        return samples.Count > 0 ? 0 : 1;
    }

    // Polls the guest's boot timeline every 50 ms until it shows `step`; false when the bound passed first.
    private static async Task<bool> WaitForStepAsync(AgentClient agent, string step, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(started) < s_templateSettleBound)
        {
            var details = await agent.GetGuestDetailsAsync(new GetGuestDetailsRequest(),
                new CallOptions(s_templateSettleBound, CancellationToken: cancellationToken)).ConfigureAwait(false);
            if (details.BootTimeline.Any(s => s.Name == step))
            {
                return true;
            }
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
        return false;
    }

    private static async Task<Sample> CloneAsync(VmTemplateFactory factory, VmTemplate template, VmConfig config, string label, int tb,
        int probe, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        await using var vm = await factory.StartCloneAsync(config, template, s_loadTimeout, TimeSpan.FromSeconds(10), cancellationToken)
            .ConfigureAwait(false);
        var restored = Stopwatch.GetElapsedTime(start);
        var agent = await AgentConnector.ConnectAsync(vm.Agent.ToString(), s_agentBound, probeTimeout: TimeSpan.FromMilliseconds(probe),
            cancellationToken: cancellationToken).ConfigureAwait(false);
        var answered = Stopwatch.GetElapsedTime(start);
        await using (agent.Connection.ConfigureAwait(false))
        {
            var rootfs = BusyboxBundle.Create(config.Shared!.HostPath, "hello");
            var call = new CallOptions(TimeSpan.FromSeconds(60), CancellationToken: cancellationToken);
            var exec = Stopwatch.GetTimestamp();
            await agent.CreateSandboxAsync(new CreateSandboxRequest { SandboxId = "bench", Hostname = "bench" }, call).ConfigureAwait(false);
            var (createMs, startMs) = await CreateAndStartAsync(agent, "hello", rootfs, call).ConfigureAwait(false);
            var first = await agent.ReadStdoutAsync(new ReadStreamRequest { ContainerId = "hello", MaxBytes = 4096 }, call).ConfigureAwait(false);
            var output = Stopwatch.GetElapsedTime(exec);
            if (first.Data.ToStringUtf8() != BusyboxBundle.ExpectedOutput)
            {
                throw new InvalidOperationException($"echo hello wrote \"{first.Data.ToStringUtf8()}\"");
            }
            await agent.WaitProcessAsync(new WaitProcessRequest { ContainerId = "hello" }, call).ConfigureAwait(false);
            var details = await agent.GetGuestDetailsAsync(new GetGuestDetailsRequest(), call).ConfigureAwait(false);
            var steps = details.BootTimeline.GroupBy(step => step.Name).ToDictionary(g => g.Key, g => g.First().Seconds);
            double Span(string from, string to) =>
                steps.TryGetValue(from, out var a) && steps.TryGetValue(to, out var b) ? (b - a) * 1000 : double.NaN;
            var firstSteps = new ContainerSteps(createMs, startMs,
                Span("CreateContainer received", "crun create spawned"), Span("crun create spawned", "crun create exited"),
                Span("crun create exited", "CreateContainer answered"),
                // The agent releases the init itself (no crun start, docs/agent-api.md) unless it fell back to crun start.
                steps.ContainsKey(Released) ? Span("StartContainer received", Released) : Span("StartContainer received", "crun start spawned"),
                steps.ContainsKey(Released) ? 0 : Span("crun start spawned", "crun start exited"),
                steps.ContainsKey(Released) ? Span(Released, "StartContainer answered") : Span("crun start exited", "StartContainer answered"));
            // A second container in the same clone: crun's code is now in QEMU's translation cache (and the guest's
            // page cache), so first minus second is what the first run paid for translation and cold caches.
            var rootfs2 = BusyboxBundle.Create(config.Shared!.HostPath, "hello2");
            var (createMs2, startMs2) = await CreateAndStartAsync(agent, "hello2", rootfs2, call).ConfigureAwait(false);
            await agent.WaitProcessAsync(new WaitProcessRequest { ContainerId = "hello2" }, call).ConfigureAwait(false);
            var pss = SmapsKiB(vm.Pid, "Pss:") / 1024.0;
            var privateMiB = (SmapsKiB(vm.Pid, "Private_Clean:") + SmapsKiB(vm.Pid, "Private_Dirty:")) / 1024.0;
            await vm.StopAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
            return new Sample(label, tb, probe, restored.TotalMilliseconds, (answered - restored).TotalMilliseconds, output.TotalMilliseconds,
                createMs2 + startMs2, pss, privateMiB, firstSteps, ContainerSteps.Timed(createMs2, startMs2));
        }
    }

    private static async Task<(double CreateMs, double StartMs)> CreateAndStartAsync(AgentClient agent, string id, string rootfs,
        CallOptions call)
    {
        var start = Stopwatch.GetTimestamp();
        await agent.CreateContainerAsync(new CreateContainerRequest
        {
            ContainerId = id,
            OciSpecJson = ByteString.CopyFromUtf8(BusyboxBundle.SpecJson),
            RootfsPath = rootfs,
        }, call).ConfigureAwait(false);
        var created = Stopwatch.GetElapsedTime(start);
        await agent.StartContainerAsync(new StartContainerRequest { ContainerId = id }, call).ConfigureAwait(false);
        return (created.TotalMilliseconds, (Stopwatch.GetElapsedTime(start) - created).TotalMilliseconds);
    }

    private static VmConfig Config(string guest, string scratch, string name, int tb, int memory) => new()
    {
        Kernel = new KernelConfig
        {
            Path = Path.Combine(guest, "vmlinux"),
            InitramfsPath = Path.Combine(guest, "initramfs.cpio"),
            ExtraParameters = ["cc.share=late"],
        },
        RunDirectory = Path.Combine(scratch, name, "run"),
        ConsoleLogPath = Path.Combine(scratch, name, "console.log"),
        Shared = new SharedDirectory { HostPath = Directory.CreateDirectory(Path.Combine(scratch, name, "shared")).FullName },
        MemoryMiB = memory,
        Accel = Accelerator.Tcg,
        TcgTranslationCacheMiB = tb,
    };

    private static long SmapsKiB(int pid, string field)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/smaps_rollup"))
        {
            if (line.StartsWith(field, StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            }
        }
        return 0;
    }

    private static string Range(IEnumerable<Sample> samples, Func<Sample, double> value, string format = "0")
    {
        var values = samples.Select(value).Order().ToList();
        return values.Count == 1
            ? values[0].ToString(format, CultureInfo.InvariantCulture)
            : $"{values[0].ToString(format, CultureInfo.InvariantCulture)}–{values[^1].ToString(format, CultureInfo.InvariantCulture)} (median {values[values.Count / 2].ToString(format, CultureInfo.InvariantCulture)})";
    }

    private static int[] Ints(string list) =>
        [.. list.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture))];

    private static string LoadAverage() => File.ReadAllText("/proc/loadavg").Split(' ')[0];
}
