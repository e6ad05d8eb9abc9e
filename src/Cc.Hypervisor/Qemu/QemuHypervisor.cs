using Cc.Hypervisor.Processes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Hypervisor.Qemu;

/// <summary>
/// Starts VMs as QEMU child processes. The host is probed once per instance; Auto choices in
/// <see cref="VmConfig"/> resolve against it.
/// </summary>
public sealed class QemuHypervisor(ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null, HostCapabilities? host = null) : IHypervisor
{
    private readonly ILogger _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<QemuHypervisor>();
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    public HostCapabilities Host { get; } = host ?? HostCapabilities.Probe();

    async Task<IVirtualMachine> IHypervisor.StartAsync(VmConfig config, CancellationToken cancellationToken) =>
        await StartAsync(config, cancellationToken).ConfigureAwait(false);

    /// <summary>Starts QEMU and returns once QMP answers. On any failure, everything started so far is
    /// stopped and the run directory removed before the exception propagates.</summary>
    public async Task<QemuVirtualMachine> StartAsync(VmConfig config, CancellationToken cancellationToken)
    {
        VmConfigValidation.Validate(config, Host);
        RunLayout layout = RunLayout.For(config);
        IReadOnlyList<string> argv = QemuCommandLine.Build(config, layout, Host);
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(layout.Directory));
        CreateRunDirectory(layout.Directory);

        ConsoleLog? console = null;
        ChildProcess? virtiofsd = null;
        ChildProcess? qemu = null;
        QemuVirtualMachine? vm = null;
        try
        {
            console = ConsoleLog.Create(layout.ConsoleLogPath);
            if (config.Shared is { Kind: SharedFsKind.VirtioFs } shared)
            {
                virtiofsd = await Virtiofsd.StartAsync(shared, layout, _logger, name, _time, cancellationToken).ConfigureAwait(false);
            }
            QemuLog.CommandLine(_logger, name, config.QemuPath, string.Join(' ', argv));
            ConsoleLog log = console;
            // QEMU gets the tap (and vhost-net) descriptors at the numbers its command line names, and nothing else of ours.
            qemu = Spawn.Helper(new SpawnOptions
            {
                Executable = config.QemuPath,
                Arguments = argv,
                Fds = QemuCommandLine.InheritedFds(config),
                CaptureOutput = true,
                OnOutputLine = line =>
                {
                    QemuLog.Stderr(_logger, name, line);
                    log.AppendLine("qemu: ", line);
                },
            });
            QemuLog.Started(_logger, name, qemu.Pid);
            AgentEndpoint agent = config.Agent switch
            {
                VsockTransport vsock => new VsockEndpoint(vsock.GuestCid, vsock.Port),
                _ => new VirtioSerialEndpoint(layout.AgentSocket),
            };
            vm = new QemuVirtualMachine(layout, qemu, virtiofsd, console, agent, _logger, _time);
            await vm.ConnectAsync(config.StartTimeout, cancellationToken).ConfigureAwait(false);
            vm.EnableHotplug(config);
            return vm;
        }
        catch
        {
            if (vm is not null)
            {
                // Owns the process, virtiofsd, console log and run directory from here on.
                await vm.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                qemu?.Kill();
                virtiofsd?.Kill();
                if (qemu is not null)
                {
                    await qemu.Exited.ConfigureAwait(false);
                }
                if (virtiofsd is not null)
                {
                    await virtiofsd.Exited.ConfigureAwait(false);
                }
                qemu?.Dispose();
                virtiofsd?.Dispose();
                console?.Dispose();
                QemuVirtualMachine.RemoveRunDirectory(layout.Directory, _logger, name);
            }
            throw;
        }
    }

    // The run directory is private to one VM: an existing non-empty one may belong to a live VM
    // whose sockets we must not replace.
    private static void CreateRunDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("the QEMU driver runs on Linux only");
        }
        if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
        {
            throw new VmConfigException($"run directory {directory} already exists and is not empty (another VM's?)");
        }
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }
}
