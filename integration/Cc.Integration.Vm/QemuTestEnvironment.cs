using Cc.Hypervisor;

namespace Cc.Integration.Vm;

/// <summary>
/// Paths and a disposable scratch directory for the QEMU driver tests. The guest files come from
/// build/guest/ (<c>make guest</c>); when they are missing the test fails, it does not skip.
/// </summary>
internal sealed class QemuTestEnvironment : IDisposable
{
    public const string FloorMarker = "CC-FLOOR-READY";

    private QemuTestEnvironment(string repoRoot, string scratch)
    {
        Kernel = Path.Combine(repoRoot, "build", "guest", "vmlinux");
        FloorCpio = Path.Combine(repoRoot, "build", "guest", "floor.cpio");
        Scratch = scratch;
    }

    public string Kernel { get; }
    public string FloorCpio { get; }

    /// <summary>A private directory under /tmp: the run directory and the console log go here.</summary>
    public string Scratch { get; }

    public string RunDirectory => Path.Combine(Scratch, "run");
    public string ConsoleLog => Path.Combine(Scratch, "console.log");

    public static QemuTestEnvironment Create()
    {
        string root = FindRepoRoot();
        var env = new QemuTestEnvironment(root, Directory.CreateTempSubdirectory("cc-qemu-").FullName);
        foreach (string file in new[] { env.Kernel, env.FloorCpio })
        {
            if (!File.Exists(file))
            {
                env.Dispose();
                Assert.Fail($"{file} is missing: run `make guest` first (it builds build/guest/)");
            }
        }
        return env;
    }

    /// <summary>The floor guest under TCG: prints the marker, then powers off.</summary>
    public VmConfig FloorConfig(MachineType machine = MachineType.Q35) => new()
    {
        Kernel = new KernelConfig { Path = Kernel, InitramfsPath = FloorCpio },
        RunDirectory = RunDirectory,
        ConsoleLogPath = ConsoleLog,
        Machine = machine,
        Accel = Accelerator.Auto,
        Shared = new SharedDirectory { HostPath = Scratch },
    };

    public string ReadConsole() => File.Exists(ConsoleLog) ? File.ReadAllText(ConsoleLog) : "";

    private static string FindRepoRoot()
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

    public void Dispose()
    {
        try
        {
            Directory.Delete(Scratch, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Already gone.
        }
    }
}
