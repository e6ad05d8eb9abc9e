using System.Text.Json.Nodes;
using Cc.Agent.Protocol;
using Cc.Agent.Protocol.V1;
using Cc.Hypervisor;
using Cc.Hypervisor.Qemu;
using Cc.TestKit;
using Google.Protobuf;

namespace Cc.Integration.Vm;

/// <summary>
/// One guest booted from build/guest/ (make build + make guest) with the agent as /init, a busybox
/// root filesystem shared over 9p, and an <see cref="AgentClient"/> connected through the
/// virtio-serial port. CC_AGENT_INITRAMFS overrides the initramfs (a locally patched image).
/// </summary>
public sealed class AgentVm : IAsyncDisposable
{
    // TCG boot is 2-6 s on the project's 2-core machine; the bound allows for a loaded machine.
    public static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(90);
    // crun under TCG takes a few hundred ms per command; a loaded machine more.
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(60);
    public const string GuestShared = "/run/cc/shared";

    private static readonly string[] s_applets =
        ["sh", "echo", "cat", "stty", "sleep", "uname", "true", "tty", "seq", "head", "hostname", "readlink", "httpd", "wget",
         "dd", "rm", "ls"];

    private AgentVm(string scratch, IVirtualMachine vm, AgentClient client, string kernelVersion)
    {
        Scratch = scratch;
        Machine = vm;
        Client = client;
        KernelVersion = kernelVersion;
    }

    public string Scratch { get; }
    public IVirtualMachine Machine { get; }
    public AgentClient Client { get; }
    public string KernelVersion { get; }
    public string ConsoleLog => Path.Combine(Scratch, "console.log");
    public string RunDirectory => Path.Combine(Scratch, "run");
    public string SharedDirectory => Path.Combine(Scratch, "shared");

    /// <summary>Boots the guest; <paramref name="configure"/> may change the VM's config (a test of one device).</summary>
    public static async Task<AgentVm> BootAsync(Func<VmConfig, VmConfig>? configure = null)
    {
        var root = RepoRoot();
        var guest = Path.Combine(root, "build", "guest");
        var kernel = Path.Combine(guest, "vmlinux");
        var initramfs = Environment.GetEnvironmentVariable("CC_AGENT_INITRAMFS") is { Length: > 0 } over
            ? over
            : Path.Combine(guest, "initramfs.cpio");
        foreach (var file in new[] { kernel, initramfs, Path.Combine(guest, "kernel-version") })
        {
            File.Exists(file).ShouldBeTrue($"{file} is missing: run `make build guest` first");
        }

        var scratch = Directory.CreateTempSubdirectory("cc-agentvm-").FullName;
        Directory.CreateDirectory(Path.Combine(scratch, "shared", "containers"));
        var config = new VmConfig
        {
            Kernel = new KernelConfig { Path = kernel, InitramfsPath = initramfs, AgentLogLevel = "debug" },
            RunDirectory = Path.Combine(scratch, "run"),
            ConsoleLogPath = Path.Combine(scratch, "console.log"),
            Shared = new SharedDirectory { HostPath = Path.Combine(scratch, "shared") },
            MemoryMiB = 512,
        };
        config = configure?.Invoke(config) ?? config;

        var vm = await new QemuHypervisor().StartAsync(config, CancellationToken.None).WithTimeout(BootTimeout);
        try
        {
            var client = await AgentConnector.ConnectAsync(vm.Agent.ToString()!, BootTimeout);
            return new AgentVm(scratch, vm, client, File.ReadAllText(Path.Combine(guest, "kernel-version")).Trim());
        }
        catch (Exception e)
        {
            await vm.DisposeAsync();
            var console = File.Exists(config.ConsoleLogPath) ? File.ReadAllText(config.ConsoleLogPath) : "(no console log)";
            Directory.Delete(scratch, recursive: true);
            throw new InvalidOperationException($"the agent did not answer: {e.Message}\nconsole:\n{console}", e);
        }
    }

    /// <summary>build/guest/ of this checkout: the kernel and the initramfs (make guest).</summary>
    public static string GuestDirectory => Path.Combine(RepoRoot(), "build", "guest");

    public string Console() => File.Exists(ConsoleLog) ? File.ReadAllText(ConsoleLog) : "";

    // A busybox root filesystem for `id` in the shared directory; returns its path in the guest.
    public string MakeRootfs(string id)
    {
        var rootfs = Path.Combine(SharedDirectory, "containers", id, "rootfs");
        Directory.CreateDirectory(Path.Combine(rootfs, "bin"));
        foreach (var dir in new[] { "proc", "dev", "sys", "tmp" })
        {
            Directory.CreateDirectory(Path.Combine(rootfs, dir));
        }

        File.Copy("/bin/busybox", Path.Combine(rootfs, "bin", "busybox"));
        foreach (var applet in s_applets)
        {
            File.CreateSymbolicLink(Path.Combine(rootfs, "bin", applet), "busybox");
        }

        return $"{GuestShared}/containers/{id}/rootfs";
    }

    public async Task<int> RunAsync(string id, string[] args, bool terminal = false, bool stdin = false)
    {
        var created = await Client.CreateContainerAsync(new CreateContainerRequest
        {
            ContainerId = id,
            OciSpecJson = ByteString.CopyFromUtf8(Spec(args).ToJsonString()),
            RootfsPath = MakeRootfs(id),
            Stdio = new StdioOptions { Terminal = terminal, Stdin = stdin },
        }).WithTimeout(CallTimeout);
        await Client.StartContainerAsync(new StartContainerRequest { ContainerId = id }).WithTimeout(CallTimeout);
        return created.Pid;
    }

    public async Task<string> ReadToEndAsync(string id, string execId = "", bool stderr = false)
    {
        using var all = new MemoryStream();
        while (true)
        {
            var request = new ReadStreamRequest { ContainerId = id, ExecId = execId, MaxBytes = 32 * 1024 };
            var response = await (stderr ? Client.ReadStderrAsync(request) : Client.ReadStdoutAsync(request)).WithTimeout(CallTimeout);
            if (response.Data.IsEmpty)
            {
                return System.Text.Encoding.UTF8.GetString(all.ToArray());
            }

            response.Data.WriteTo(all);
        }
    }

    public async Task<uint> WaitAsync(string id, string execId = "") =>
        (await Client.WaitProcessAsync(new WaitProcessRequest { ContainerId = id, ExecId = execId }).WithTimeout(CallTimeout)).ExitStatus;

    public static JsonObject Process(params string[] args) => BusyboxSpec.Process(args);

    /// <summary>The busybox spec in the guest: the pod's network namespace (no network namespace of its own).</summary>
    public static JsonObject Spec(params string[] args) => BusyboxSpec.Create(args, ownNetwork: false);

    public async ValueTask DisposeAsync()
    {
        await Client.Connection.DisposeAsync();
        await Machine.StopAsync(TimeSpan.FromSeconds(5), CancellationToken.None).WithTimeout(BootTimeout);
        await Machine.DisposeAsync();
        try
        {
            Directory.Delete(Scratch, recursive: true);
        }
        catch (IOException)
        {
            // a file still held open; /tmp is cleaned by the machine
        }
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ShimV2.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no ShimV2.sln above {AppContext.BaseDirectory}");
    }
}
