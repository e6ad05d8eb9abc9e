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
/// (cc.share=late, the template's host checks its agent and hangs up before the save), one template per TCG translation
/// cache size. Per clone: the restore (QEMU start and state load), the agent's first answer with each first-probe
/// timeout, the first stdout byte of an <c>echo hello</c> container after CreateSandbox (a first exec: the guest's code
/// runs through the translation cache), and the clone's QEMU PSS then. Rounds interleave every variant, so a change of
/// the machine's load falls on all of them. Options: --runs N (3), --guest DIR (build/guest), --tb-sizes 64,32,16
/// (MiB), --probes 1000,50 (ms), --memory MiB (512), --boot-timeout S (120), --out FILE.
/// </summary>
public static class CloneBenchCommand
{
    public static BenchCommand Command { get; } = new("clone", "template clones: restore, first agent answer per probe, first exec and PSS per tb-size", RunAsync);

    private static readonly TimeSpan s_loadTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan s_agentBound = TimeSpan.FromSeconds(15);

    private sealed record Sample(int TbSize, int ProbeMs, double RestoreMs, double AgentMs, double ExecMs, double PssMiB);

    private static async Task<int> RunAsync(BenchArgs args, CancellationToken cancellationToken)
    {
        var runs = args.GetInt("runs", 3);
        var guest = Path.GetFullPath(args.Get("guest", "build/guest"));
        var tbSizes = Ints(args.Get("tb-sizes", "64,32,16"));
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
            var templates = new Dictionary<int, VmTemplate>();
            foreach (var tb in tbSizes)
            {
                templates[tb] = await factory.EnsureAsync(Config(guest, scratch, $"template-{tb}", tb, memory), async (vm, token) =>
                {
                    var agent = await AgentConnector.ConnectAsync(vm.Agent.ToString(), bootTimeout, cancellationToken: token).ConfigureAwait(false);
                    return (IAsyncDisposable)agent.Connection;
                }, cancellationToken).ConfigureAwait(false);
            }

            int n = 0;
            for (var round = 1; round <= runs; round++)
            {
                foreach (var tb in tbSizes)
                {
                    foreach (var probe in probes)
                    {
                        try
                        {
                            var sample = await CloneAsync(factory, templates[tb], Config(guest, scratch, $"clone-{n++}", tb, memory), tb, probe,
                                cancellationToken).ConfigureAwait(false);
                            samples.Add(sample);
                            await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                                $"clone bench: round {round} tb-size {tb} probe {probe} ms: restore {sample.RestoreMs:0} ms, agent {sample.AgentMs:0} ms, first exec output {sample.ExecMs:0} ms, PSS {sample.PssMiB:0.0} MiB")).ConfigureAwait(false);
                        }
                        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                        {
                            failed++;
                            await Console.Error.WriteLineAsync($"clone bench: round {round} tb-size {tb} probe {probe} failed: {e.Message}").ConfigureAwait(false);
                        }
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
            $"### Template clones — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {runs} rounds, TCG, {memory} MiB, {Environment.ProcessorCount} cores, load average {loadBefore} → {LoadAverage()}, {failed} failed\n\n"));
        table.AppendLine("| tb-size | first probe | restore (QEMU start + state load) | then agent answer | CreateSandbox + echo hello, first output | clone QEMU PSS |");
        table.AppendLine("|---|---|---|---|---|---|");
        foreach (var group in samples.GroupBy(s => (s.TbSize, s.ProbeMs)))
        {
            table.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {group.Key.TbSize} MiB | {group.Key.ProbeMs} ms | {Range(group, s => s.RestoreMs)} ms | {Range(group, s => s.AgentMs)} ms | {Range(group, s => s.ExecMs)} ms | {Range(group, s => s.PssMiB, "0.0")} MiB |"));
        }
        await Console.Out.WriteLineAsync(table.ToString()).ConfigureAwait(false);
        if (args.Get("out") is { } outPath)
        {
            await File.WriteAllTextAsync(outPath, table.ToString(), cancellationToken).ConfigureAwait(false);
        }
        return samples.Count > 0 ? 0 : 1;
    }

    private static async Task<Sample> CloneAsync(VmTemplateFactory factory, VmTemplate template, VmConfig config, int tb, int probe,
        CancellationToken cancellationToken)
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
            await agent.CreateContainerAsync(new CreateContainerRequest
            {
                ContainerId = "hello",
                OciSpecJson = ByteString.CopyFromUtf8(BusyboxBundle.SpecJson),
                RootfsPath = rootfs,
            }, call).ConfigureAwait(false);
            await agent.StartContainerAsync(new StartContainerRequest { ContainerId = "hello" }, call).ConfigureAwait(false);
            var first = await agent.ReadStdoutAsync(new ReadStreamRequest { ContainerId = "hello", MaxBytes = 4096 }, call).ConfigureAwait(false);
            var output = Stopwatch.GetElapsedTime(exec);
            if (first.Data.ToStringUtf8() != BusyboxBundle.ExpectedOutput)
            {
                throw new InvalidOperationException($"echo hello wrote \"{first.Data.ToStringUtf8()}\"");
            }
            await agent.WaitProcessAsync(new WaitProcessRequest { ContainerId = "hello" }, call).ConfigureAwait(false);
            var pss = PssKiB(vm.Pid) / 1024.0;
            await vm.StopAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
            return new Sample(tb, probe, restored.TotalMilliseconds, (answered - restored).TotalMilliseconds, output.TotalMilliseconds, pss);
        }
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

    private static long PssKiB(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/smaps_rollup"))
        {
            if (line.StartsWith("Pss:", StringComparison.Ordinal))
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
