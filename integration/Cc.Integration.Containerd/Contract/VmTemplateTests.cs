using System.Globalization;
using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Containerd.Contract;

/// <summary>
/// VM templates (docs/templates.md) through the real containerd, the shim binary, QEMU and the guest: with
/// <c>[factory] template = true</c> a pod's VM is a clone of a saved template; each clone gets its own identity and
/// hot-plugs memory and vCPUs on Task Update; a template whose state is broken falls back to a cold boot. Every test uses its own template directory in tmpfs
/// (beside the run_dir, which the suite's leak check must find empty) and removes it with <c>factory destroy</c>.
/// </summary>
[Collection(ContainerdCollection.Name)]
[Trait("Category", "Template")]
public sealed class VmTemplateTests(ContainerdFixture fixture) : IAsyncLifetime
{
    private static readonly TimeSpan s_budget = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan s_command = TimeSpan.FromMinutes(4);
    private readonly string _directory = $"{Leftovers.ConfiguredRunDirectory()}-templates/{Guid.NewGuid():N}"[..^20];

    private string ConfigPath => _directory + ".toml";
    private string TemplateDirectory => Path.Combine(_directory, "t");

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        // build/configuration.toml (kernel, initramfs, run_dir of this checkout) with templates on.
        File.WriteAllText(ConfigPath, File.ReadAllText(RepoPaths.ShimConfiguration)
            + $"\n[factory]\ntemplate = true\ndirectory = \"{TemplateDirectory}\"\n");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await FactoryAsync("destroy");
        File.Delete(ConfigPath);
        Directory.Delete(_directory, recursive: true);
        if (Directory.GetParent(_directory) is { } parent && !parent.EnumerateFileSystemInfos().Any())
        {
            parent.Delete();
        }
    }

    private RuntimeUnderTest Runtime => RuntimeUnderTest.Cc with
    {
        RunOptions = ["--runtime", "io.containerd.cc.v2", "--runtime-config-path", ConfigPath],
    };

    private async Task<ContainerdSession> BeginAsync()
    {
        RuntimeUnderTest.Cc.MissingPrerequisite().ShouldBeNull();
        using var start = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var containerd = await fixture.GetAsync("1.6", start.Token);
        return new ContainerdSession(containerd, Runtime, fixture.Images.BusyboxImage, s_budget, _ => { });
    }

    private Task<ProcessResult> FactoryAsync(string action) =>
        ProcessRunner.RunAsync(RepoPaths.ShimBinary, ["factory", action, "--config", ConfigPath], s_command, CancellationToken.None);

    private static string VmOrigin(string id) =>
        File.ReadAllText(Path.Combine(Leftovers.ConfiguredRunDirectory(), PrivateContainerd.Namespace, id, "vm-origin")).Trim();

    [Fact]
    public async Task Two_pods_from_one_template_are_clones_with_their_own_hostname_and_randomness_and_both_run_commands()
    {
        var init = await FactoryAsync("init");
        init.ExitCode.ShouldBe(0, init.Describe());
        var key = (await FactoryAsync("key")).Stdout.Trim();
        init.Stdout.ShouldContain($"template {key} ready");

        await using var s = await BeginAsync();
        var ids = new[] { s.NewId("tpl-a"), s.NewId("tpl-b") };
        foreach (var id in ids)
        {
            await s.RunDetachedAsync(id, "sleep", "600");
        }

        // The shim's own record of how each VM started: a clone of the template `factory init` made.
        ids.Select(VmOrigin).ShouldAllBe(origin => origin == $"template {key}", s.LogSinceStart(80));
        var hostnames = new List<string>();
        var randoms = new List<string>();
        foreach (var id in ids)
        {
            var hostname = await s.CtrAsync("task", "exec", "--exec-id", "h", id, "hostname");
            s.ShouldSucceed(hostname);
            hostnames.Add(hostname.Stdout.Trim());
            var random = await s.CtrAsync("task", "exec", "--exec-id", "r", id, "sh", "-c", "head -c 16 /dev/urandom | od -An -tx1");
            s.ShouldSucceed(random);
            randoms.Add(random.Stdout.Trim());
        }
        hostnames.Distinct().Count().ShouldBe(2, string.Join(", ", hostnames));
        randoms.ShouldAllBe(r => r.Length > 0);
        randoms.Distinct().Count().ShouldBe(2, string.Join(", ", randoms));

        foreach (var id in ids)
        {
            await s.CtrAsync("task", "kill", "-s", "SIGKILL", id);
            await s.WaitForStatusAsync(id, "STOPPED", TimeSpan.FromMinutes(1));
            s.ShouldSucceed(await s.CtrAsync("task", "rm", id));
            s.ShouldSucceed(await s.CtrAsync("container", "rm", id));
        }
        // After both: the leak check counts every QEMU started during the test.
        foreach (var id in ids)
        {
            await s.ShouldLeaveNothingAsync(id);
        }
    }

    [Fact]
    public async Task The_first_pod_makes_the_template_and_ctr_run_rm_prints_from_the_clone()
    {
        await using var s = await BeginAsync();
        var id = s.NewId("tpl-first");
        var run = await s.RunAsync(id, "echo", "from-a-clone");
        s.ShouldSucceed(run);
        run.Stdout.ShouldContain("from-a-clone");
        var log = s.LogSinceStart(200);
        log.ShouldContain("made in");
        log.ShouldContain($"VM restored from template {(await FactoryAsync("key")).Stdout.Trim()}");
        await s.ShouldLeaveNothingAsync(id);
    }

    [Fact]
    public async Task A_corrupted_template_state_falls_back_to_a_cold_boot_and_the_container_still_runs()
    {
        var init = await FactoryAsync("init");
        init.ExitCode.ShouldBe(0, init.Describe());
        var key = (await FactoryAsync("key")).Stdout.Trim();
        // Making a template is long (a cold boot and a save): init says each step as it begins, then the result.
        init.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0])
            .ShouldBe(["[1/4]", "[2/4]", "[3/4]", "[4/4]", "template"], init.Describe());
        var state = Path.Combine(TemplateDirectory, key, "state");
        File.Exists(state).ShouldBeTrue();
        File.WriteAllBytes(state, [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 7))]);

        await using var s = await BeginAsync();
        var id = s.NewId("tpl-bad");
        await s.RunDetachedAsync(id, "sleep", "600");
        VmOrigin(id).ShouldBe("cold");
        s.LogSinceStart(200).ShouldContain("VM template failed, booting cold");
        var echo = await s.CtrAsync("task", "exec", "--exec-id", "e", id, "echo", "still-runs");
        s.ShouldSucceed(echo);
        echo.Stdout.ShouldContain("still-runs");

        await s.CtrAsync("task", "kill", "-s", "SIGKILL", id);
        await s.WaitForStatusAsync(id, "STOPPED", TimeSpan.FromMinutes(1));
        s.ShouldSucceed(await s.CtrAsync("task", "rm", id));
        s.ShouldSucceed(await s.CtrAsync("container", "rm", id));
        await s.ShouldLeaveNothingAsync(id);
    }

    /// <summary>
    /// A clone carries the template's hot-plug headroom (maxcpus, maxmem and the empty virtio-mem device are part of the
    /// key): Task Update grows it and shrinks it back as it does a cold VM (docs/hotplug.md), seen inside the guest.
    /// `--memory-limit 256 MiB --cpus 1` (+ the guest's 128 MiB) fits the configured 512 MiB and 1 vCPU, so the pod has
    /// the default shape, whose template it makes on first use; 768 MiB and 2 CPUs grow it to 896 MiB and 2 vCPUs.
    /// </summary>
    [Fact]
    public async Task A_clone_grows_on_update_the_guest_sees_its_memory_and_cpus_and_lowered_limits_shrink_it_back()
    {
        await using var s = await BeginAsync();
        var id = s.NewId("tpl-grow");
        await s.RunDetachedWithAsync(["--memory-limit", (256L << 20).ToString(CultureInfo.InvariantCulture), "--cpus", "1"],
            id, "sleep", "100000");
        VmOrigin(id).ShouldBe($"template {(await FactoryAsync("key")).Stdout.Trim()}", s.LogSinceStart(80));

        var boot = await ReadSizeAsync(s, id, "boot");
        boot.Online.ShouldBe("0", boot.ToString());
        boot.Nproc.ShouldBe("1", boot.ToString());

        await UpdateAsync(s, id, 768L << 20, cpus: 2);
        var grown = await ReadSizeAsync(s, id, "grown");

        // 384 MiB plugged (896 - 512); the kernel keeps ~1.6 % of hot-added memory for its page structs.
        (grown.MemTotalKib - boot.MemTotalKib).ShouldBeGreaterThanOrEqualTo(370L << 10, $"boot {boot}, grown {grown}");
        grown.Online.ShouldBe("0-1", grown.ToString());
        grown.Nproc.ShouldBe("2", grown.ToString());

        await UpdateAsync(s, id, 256L << 20, cpus: 1);
        var shrunk = await ReadSizeAsync(s, id, "shrunk");

        shrunk.MemTotalKib.ShouldBeLessThanOrEqualTo(boot.MemTotalKib + (4L << 10), $"boot {boot}, shrunk {shrunk}");
        shrunk.Online.ShouldBe("0", shrunk.ToString());
        shrunk.Nproc.ShouldBe("1", shrunk.ToString());
        await s.KillRemoveAndLeaveNothingAsync(id);
    }

    private sealed record GuestSize(long MemTotalKib, string Online, string Nproc);

    private static async Task UpdateAsync(ContainerdSession s, string id, long memoryBytes, int cpus)
    {
        var (status, message) = await ContainerdTasksClient.UpdateAsync(s.Containerd.Address, PrivateContainerd.Namespace, id,
            $"{{\"memory\":{{\"limit\":{memoryBytes}}},\"cpu\":{{\"quota\":{cpus * 100_000},\"period\":100000}}}}",
            s.CancellationToken);
        status.ShouldBe(0, $"Tasks.Update: {message}\n{s.LogSinceStart(80)}");
    }

    /// <summary>
    /// MemTotal in KiB, the guest kernel's online CPU list and nproc. (A ctr container's own cgroup files are not read
    /// here: the Docker and CRI resize tests read them; under ctr /sys/fs/cgroup showed no memory.max.)
    /// </summary>
    private static async Task<GuestSize> ReadSizeAsync(ContainerdSession s, string id, string execId)
    {
        var read = await s.CtrAsync("task", "exec", "--exec-id", execId, id, "sh", "-c",
            "sed -n 's/^MemTotal: *\\([0-9]*\\) kB/\\1/p' /proc/meminfo; cat /sys/devices/system/cpu/online; nproc");
        s.ShouldSucceed(read);
        var lines = read.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        lines.Length.ShouldBe(3, s.Because(read));
        return new GuestSize(long.Parse(lines[0], CultureInfo.InvariantCulture), lines[1], lines[2]);
    }

    [Fact]
    public async Task Another_memory_size_or_a_rebuilt_kernel_names_another_template()
    {
        var key = (await FactoryAsync("key")).Stdout.Trim();
        key.Length.ShouldBe(16);
        var original = File.ReadAllText(ConfigPath);

        File.WriteAllText(ConfigPath, original.Replace("memory_mib = 512", "memory_mib = 384", StringComparison.Ordinal));
        var resized = (await FactoryAsync("key")).Stdout.Trim();

        // The same kernel at another path with another modification time: what a rebuild looks like to the key.
        var kernel = original.Split('\n').Single(l => l.StartsWith("kernel = ", StringComparison.Ordinal)).Split('"')[1];
        var copy = Path.Combine(_directory, "vmlinux");
        File.Copy(kernel, copy);
        File.WriteAllText(ConfigPath, original.Replace(kernel, copy, StringComparison.Ordinal));
        var rebuilt = (await FactoryAsync("key")).Stdout.Trim();

        new[] { key, resized, rebuilt }.Distinct().Count().ShouldBe(3, $"{key} {resized} {rebuilt}");
    }
}
