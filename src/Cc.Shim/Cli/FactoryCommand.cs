using Cc.Hypervisor.Qemu;
using Cc.Hypervisor.Templates;
using Cc.Shim.Configuration;
using Cc.Shim.Sandbox;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Shim.Cli;

/// <summary>
/// <c>containerd-shim-cc-v2 factory init|destroy|key [--config PATH]</c> (docs/templates.md): makes the VM template for
/// the configured default shape ([hypervisor] memory_mib, vcpus, machine, kernel, initramfs) ahead of the first pod,
/// removes every template, or prints the default shape's key. The configuration is found as the shim finds it without
/// containerd's options: --config, else the system and defaults files.
/// </summary>
public static class FactoryCommand
{
    public const string Usage = "usage: containerd-shim-cc-v2 factory init|destroy|key [--config PATH]";

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr,
        ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        loggerFactory ??= NullLoggerFactory.Instance;
        string? configPath = null;
        if (args.Count is not (1 or 3) || (args.Count == 3 && args[1] != "--config"))
        {
            stderr.WriteLine(Usage);
            return 2;
        }
        if (args.Count == 3)
        {
            configPath = args[2];
        }
        try
        {
            var configuration = ConfigurationLoader.Load(configPath).Configuration;
            var hypervisor = new QemuHypervisor(loggerFactory);
            var factory = new VmTemplateFactory(hypervisor, configuration.Factory.Directory,
                loggerFactory.CreateLogger("Cc.Shim.Factory"));
            var shape = DefaultShape(configuration);
            switch (args[0])
            {
                case "init":
                    var boot = TimeSpan.FromSeconds(configuration.Hypervisor.BootTimeoutSeconds);
                    // A template is a cold boot and a save: tens of seconds under TCG, so each step says itself.
                    var step = 0;
                    var template = await factory.EnsureAsync(shape,
                        (vm, token) => QemuVmLauncher.ConnectTemplateGuestAsync(vm, boot, loggerFactory, token), cancellationToken,
                        what => stdout.WriteLine($"[{++step}/{VmTemplateFactory.CreateSteps}] {what}"))
                        .ConfigureAwait(false);
                    stdout.WriteLine($"template {template.Key} ready in {template.Directory}");
                    if (!configuration.Factory.Template)
                    {
                        stdout.WriteLine("note: [factory] template = false in this configuration: pods boot cold until it is true");
                    }
                    return 0;
                case "destroy":
                    stdout.WriteLine($"removed {factory.DestroyAll()} template(s) from {factory.Directory}");
                    return 0;
                case "key":
                    stdout.WriteLine(factory.KeyFor(shape));
                    return 0;
                default:
                    stderr.WriteLine(Usage);
                    return 2;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            stderr.WriteLine($"containerd-shim-cc-v2 factory {args[0]}: {e.Message}");
            return 1;
        }
    }

    /// <summary>The shape of a pod without resource limits: the one <c>factory init</c> makes ahead of time. The paths
    /// are placeholders: the key does not depend on them.</summary>
    public static Cc.Hypervisor.VmConfig DefaultShape(ShimConfiguration configuration) =>
        GuestVmConfig.Build(configuration, configuration.Hypervisor.MemoryMib, configuration.Hypervisor.Vcpus,
            configuration.Factory.Directory, configuration.Factory.Directory, forTemplate: true);
}
