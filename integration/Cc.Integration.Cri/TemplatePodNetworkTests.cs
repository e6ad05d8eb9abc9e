using Cc.Integration.Containerd.Harness;
using Cc.Integration.Cri.Harness;
using Xunit.Abstractions;

namespace Cc.Integration.Cri;

/// <summary>
/// CNI pods from a VM template (docs/templates.md, "Network interfaces"): the clone gets the pod's NIC by PCI hot-plug
/// after the restore, and is then a host on the pod network like a cold-booted pod. Through a containerd of its own whose
/// handler <c>cc-template</c> names a configuration with <c>[factory] template = true</c> (its template directory in
/// tmpfs beside the run_dir, removed with <c>factory destroy</c>). Its handler <c>cc-template-nohp</c> names the same
/// configuration with the guest's PCI hot-plug drivers switched off on the kernel command line (<c>pcie_ports=compat</c>
/// keeps pciehp off the root ports, <c>acpiphp.disable=1</c> the ACPI one), as a guest kernel built without them would
/// be: its clones never see a hot-plugged NIC.
/// </summary>
[Collection(CriCollection.Name)]
[Trait("Category", "Template")]
public sealed class TemplatePodNetworkTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Handler = "cc-template";
    private const string NoHotplugHandler = "cc-template-nohp";
    private const string NoHotplugKernelParams = "pcie_ports=compat acpiphp.disable=1";
    private const int Port = 8080;
    private static readonly TimeSpan s_command = TimeSpan.FromMinutes(4);
    private readonly string _directory = $"{PodLeftovers.RunDirectories()[^1]}-templates/{Guid.NewGuid():N}"[..^20];
    private CriContainerd? _containerd;

    private string ConfigPath => _directory + ".toml";

    private string NoHotplugConfigPath => _directory + "-nohp.toml";

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        var shim = File.ReadAllText(RepoPaths.ShimConfiguration)
            + $"\n[factory]\ntemplate = true\ndirectory = \"{Path.Combine(_directory, "t")}\"\n";
        File.WriteAllText(ConfigPath, shim);
        shim.ShouldContain("[hypervisor]\n");
        shim.ShouldNotContain("kernel_params");
        File.WriteAllText(NoHotplugConfigPath,
            shim.Replace("[hypervisor]\n", $"[hypervisor]\nkernel_params = \"{NoHotplugKernelParams}\"\n", StringComparison.Ordinal));
        // The handler tables go at the end of the rendered config.toml (TOML allows a table anywhere once).
        var configure = "cat >>\"$CC_CONTAINERD_CONFIG\" <<'EOF'\n"
            + HandlerTable(Handler, ConfigPath) + HandlerTable(NoHotplugHandler, NoHotplugConfigPath) + "EOF\n";
        _containerd = await CriContainerd.StartAsync("1.7", CancellationToken.None, configure);
    }

    private static string HandlerTable(string handler, string configPath)
    {
        var table = $"plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.{handler}";
        return $"[{table}]\n  runtime_type = \"io.containerd.cc.v2\"\n[{table}.options]\n  ConfigPath = \"{configPath}\"\n";
    }

    public async Task DisposeAsync()
    {
        try
        {
            if (_containerd is not null)
            {
                await _containerd.DisposeAsync();
            }
        }
        finally
        {
            await FactoryAsync("destroy");
            File.Delete(ConfigPath);
            File.Delete(NoHotplugConfigPath);
            Directory.Delete(_directory, recursive: true);
            if (Directory.GetParent(_directory) is { } parent && !parent.EnumerateFileSystemInfos().Any())
            {
                parent.Delete();
            }
        }
    }

    private Task<ProcessResult> FactoryAsync(string action, string? configPath = null) =>
        ProcessRunner.RunAsync(RepoPaths.ShimBinary, ["factory", action, "--config", configPath ?? ConfigPath], s_command,
            CancellationToken.None);

    /// <summary>How the shim says the pod's VM started (<c>vm-origin</c> in the pod's run directory).</summary>
    private static string VmOrigin(string podId) =>
        PodLeftovers.RunDirectories().Select(r => Path.Combine(r, CriContainerd.Namespace, podId, "vm-origin"))
            .Where(File.Exists).Select(f => File.ReadAllText(f).Trim()).SingleOrDefault() ?? "(no vm-origin)";

    [Fact]
    public async Task Two_CNI_pods_cloned_from_one_template_get_their_NICs_by_hot_plug_and_serve_the_host_and_each_other()
    {
        var ct = CancellationToken.None;
        var containerd = _containerd!;
        var logStart = containerd.LogLength();
        var qemuBefore = PodLeftovers.QemuPids();
        try
        {
            var init = await FactoryAsync("init");
            init.ExitCode.ShouldBe(0, init.Describe());
            var key = (await FactoryAsync("key")).Stdout.Trim();

            // Both pods start together: two clones restored and hot-plugged side by side.
            var starting = new[] { "tnet-a", "tnet-b" }.Select(name => CriPod.RunAsync(containerd, Handler, name, ct)).ToArray();
            await Task.WhenAll(starting);
            await using var a = await starting[0];
            await using var b = await starting[1];
            new[] { VmOrigin(a.Id), VmOrigin(b.Id) }.ShouldAllBe(origin => origin == $"template {key}", containerd.LogSince(logStart));

            var pods = new List<(CriPod Pod, string Server, string Ip)>();
            foreach (var pod in new[] { a, b })
            {
                var server = await pod.CreateContainerAsync("server", 0,
                    $"mkdir -p /www && echo {pod.Config.Metadata.Name} > /www/index.html && exec httpd -f -p {Port} -h /www", ct);
                await pod.StartContainerAsync(server, ct);
                var ip = await pod.IpAsync(ct);
                output.WriteLine($"pod {pod.Config.Metadata.Name}: {pod.Id}, IP {ip}");
                ip.ShouldNotBeNullOrEmpty();
                pods.Add((pod, server, ip));
            }
            pods[0].Ip.ShouldNotBe(pods[1].Ip);

            foreach (var (pod, server, ip) in pods)
            {
                // Inside the guest: the hot-plugged NIC is eth0 with the pod's address (the agent found it by its MAC).
                var addr = await ExecAsync(pod, server, "ip", "-o", "-4", "addr", "show", "dev", "eth0");
                addr.ShouldContain($"inet {ip}/", customMessage: addr);
                (await PodNetworkTests.FetchFromHostAsync($"http://{ip}:{Port}/index.html", ct))
                    .ShouldBe($"{pod.Config.Metadata.Name}\n", $"the host at {ip}");
            }
            (await PodNetworkTests.FetchInPodAsync(a, pods[0].Server, $"http://{pods[1].Ip}:{Port}/index.html", ct))
                .ShouldBe($"{b.Config.Metadata.Name}\n");
            (await PodNetworkTests.FetchInPodAsync(b, pods[1].Server, $"http://{pods[0].Ip}:{Port}/index.html", ct))
                .ShouldBe($"{a.Config.Metadata.Name}\n");

            foreach (var (pod, _, _) in pods)
            {
                await pod.StopAsync(ct);
                await pod.RemoveAsync(ct);
            }
            foreach (var (pod, server, _) in pods)
            {
                await PodLeftovers.ShouldBeGoneAsync(containerd, pod, [server], qemuBefore);
            }
        }
        catch
        {
            output.WriteLine($"--- containerd log (tail) ---\n{containerd.LogSince(logStart, 120)}");
            throw;
        }
    }

    [Fact]
    public async Task A_clone_whose_guest_never_takes_its_hot_plugged_NIC_is_stopped_and_the_pod_boots_cold_with_its_network()
    {
        var ct = CancellationToken.None;
        var containerd = _containerd!;
        var logStart = containerd.LogLength();
        var qemuBefore = PodLeftovers.QemuPids();
        try
        {
            // The template itself boots and saves as usual: nothing of its boot needs hot-plug.
            var init = await FactoryAsync("init", NoHotplugConfigPath);
            init.ExitCode.ShouldBe(0, init.Describe());

            await using var pod = await CriPod.RunAsync(containerd, NoHotplugHandler, "tnohp", ct);
            VmOrigin(pod.Id).ShouldBe("cold", containerd.LogSince(logStart, 200));
            var log = containerd.LogSince(logStart, 5000);
            log.ShouldContain("VM template failed, booting cold: the guest did not take hot-plugged network interface 0", Case.Sensitive, log);
            // The clone (the only QEMU of the pod started with -incoming) was stopped before the cold boot began.
            ClonesOf(pod.Id).ShouldBeEmpty();

            var server = await pod.CreateContainerAsync("server", 0,
                $"mkdir -p /www && echo cold > /www/index.html && exec httpd -f -p {Port} -h /www", ct);
            await pod.StartContainerAsync(server, ct);
            var ip = await pod.IpAsync(ct);
            ip.ShouldNotBeNullOrEmpty();
            var addr = await ExecAsync(pod, server, "ip", "-o", "-4", "addr", "show", "dev", "eth0");
            addr.ShouldContain($"inet {ip}/", customMessage: addr);
            (await PodNetworkTests.FetchFromHostAsync($"http://{ip}:{Port}/index.html", ct)).ShouldBe("cold\n");

            await pod.StopAsync(ct);
            await pod.RemoveAsync(ct);
            await PodLeftovers.ShouldBeGoneAsync(containerd, pod, [server], qemuBefore);
        }
        catch
        {
            output.WriteLine($"--- containerd log (tail) ---\n{containerd.LogSince(logStart, 120)}");
            throw;
        }
    }

    /// <summary>Live QEMUs of pod <paramref name="podId"/> that were started as clones (their argv has -incoming).</summary>
    private static List<int> ClonesOf(string podId) =>
        [.. PodLeftovers.QemuPids().Where(pid =>
        {
            try
            {
                var argv = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
                return argv.Contains("-incoming") && argv.Any(a => a.Contains(podId, StringComparison.Ordinal));
            }
            catch (IOException)
            {
                return false;
            }
        })];

    private static async Task<string> ExecAsync(CriPod pod, string id, params string[] cmd)
    {
        var result = await pod.ExecSyncAsync(id, CancellationToken.None, cmd);
        result.ExitCode.ShouldBe(0, $"{string.Join(' ', cmd)}: {result.Stderr.ToStringUtf8()}");
        return result.Stdout.ToStringUtf8();
    }
}
