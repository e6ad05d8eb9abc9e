namespace Cc.Hypervisor.Qemu;

/// <summary>The files of one VM inside its run directory (docs/design/guest.md names them).</summary>
public sealed record RunLayout(string Directory, string ConsoleLogPath)
{
    /// <summary>Unix socket paths are limited to sizeof(sun_path) - 1 bytes.</summary>
    public const int MaxSocketPathBytes = 107;

    public static RunLayout For(VmConfig config) =>
        new(config.RunDirectory, config.ConsoleLogPath ?? Path.Combine(config.RunDirectory, "console.log"));

    public string QmpSocket => Path.Combine(Directory, "qmp.sock");
    public string AgentSocket => Path.Combine(Directory, "agent.sock");
    public string VirtiofsdSocket => Path.Combine(Directory, "virtiofsd.sock");
    public string PidFile => Path.Combine(Directory, "qemu.pid");
}
