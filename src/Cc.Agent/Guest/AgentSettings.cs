using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Cc.Agent.Guest;

// What the agent executable is told: the kernel command line (cc.log, cc.port, cc.vsock; names in
// docs/design/guest.md) when it is PID 1, and its own arguments (--listen and the directory
// overrides, for running it as a normal process on a host).
public sealed record AgentSettings
{
    public const string DefaultPort = "cc.agent.0";
    public const uint DefaultVsockPort = 1024;

    public LogLevel LogLevel { get; init; } = LogLevel.Information;
    public string PortName { get; init; } = DefaultPort;
    public uint VsockPort { get; init; } = DefaultVsockPort;

    // cc.share=late: the 9p share is mounted at the first CreateSandbox instead of at boot. A template VM boots with
    // it (docs/templates.md): QEMU refuses to save a VM whose guest has a 9p share mounted.
    public bool MountShareAtBoot { get; init; } = true;

    // Serve on this ttrpc address instead of the virtio-serial port (e.g. unix:///tmp/agent.sock).
    public string? Listen { get; init; }

    public AgentOptions Options { get; init; } = new();

    // Unknown keys are ignored (the command line belongs to the kernel too); bad values of ours are
    // an ArgumentException naming them.
    public static AgentSettings Parse(string kernelCommandLine, IReadOnlyList<string> arguments)
    {
        var settings = new AgentSettings();
        foreach (var word in kernelCommandLine.Split(' ', '\n', '\t').Where(w => w.Length > 0))
        {
            var eq = word.IndexOf('=');
            if (eq < 0)
            {
                continue;
            }

            var (key, value) = (word[..eq], word[(eq + 1)..]);
            settings = key switch
            {
                "cc.log" => settings with { LogLevel = ParseLevel(key, value) },
                "cc.port" => settings with { PortName = value.Length > 0 ? value : throw new ArgumentException("cc.port is empty") },
                "cc.vsock" => settings with { VsockPort = ParsePort(value) },
                "cc.share" => settings with { MountShareAtBoot = ParseShare(value) },
                _ => settings,
            };
        }

        for (var i = 0; i < arguments.Count; i++)
        {
            string Next() => i + 1 < arguments.Count ? arguments[++i] : throw new ArgumentException($"{arguments[i]} needs a value");
            var options = settings.Options;
            settings = arguments[i] switch
            {
                "--listen" => settings with { Listen = Next() },
                "--log" => settings with { LogLevel = ParseLevel("--log", Next()) },
                "--containers-dir" => settings with { Options = options with { ContainersDirectory = Next() } },
                "--rootfs-dir" => settings with { Options = options with { RootfsDirectory = Next() } },
                "--runtime" => settings with { Options = options with { RuntimePath = Next() } },
                "--runtime-arg" => settings with { Options = options with { RuntimeGlobalArguments = [.. options.RuntimeGlobalArguments, Next()] } },
                var other => throw new ArgumentException($"unknown argument {other}"),
            };
        }

        return settings;
    }

    private static LogLevel ParseLevel(string name, string value) => value switch
    {
        "trace" => LogLevel.Trace,
        "debug" => LogLevel.Debug,
        "info" => LogLevel.Information,
        "warn" => LogLevel.Warning,
        "error" => LogLevel.Error,
        _ => throw new ArgumentException($"{name}: log level \"{value}\" is not one of trace|debug|info|warn|error"),
    };

    private static bool ParseShare(string value) => value switch
    {
        "boot" => true,
        "late" => false,
        _ => throw new ArgumentException($"cc.share \"{value}\" is not one of boot|late"),
    };

    private static uint ParsePort(string value) =>
        uint.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port > 0
            ? port
            : throw new ArgumentException($"cc.vsock \"{value}\" is not a port number");
}
