using Cc.Agent.Protocol;
using Cc.Hypervisor;
using Cc.Hypervisor.Qemu;
using Cc.Hypervisor.Templates;
using Cc.Shim.Network;
using Cc.Ttrpc;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Sandbox;

// VM templates (docs/templates.md): with [factory] template = true a pod's VM is a clone of a saved template VM of the
// same shape, made on first use. Any failure on that path (making the template, loading its state, the clone's agent
// not answering) is one log line naming why, and the pod boots cold as it would without templates.
public sealed partial class QemuVmLauncher
{
    /// <summary>How many random bytes from the host every CreateSandbox carries into the guest's entropy pool.</summary>
    internal const int GuestEntropyBytes = 64;

    /// <summary>Bounds loading a template's state into a clone (device state only: a few hundred KB).</summary>
    private static readonly TimeSpan CloneLoadTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a clone's guest may take to bind the NICs hot-plugged after the restore (as long as the agent would wait
    /// for them). One it has not taken by then is given up before CreateSandbox, and the pod boots cold with the same taps.
    /// </summary>
    private static readonly TimeSpan CloneNicTimeout = Cc.Hypervisor.Qemu.Hotplug.GuestNicBindingWait.DefaultBound;

    /// <summary>A clone's agent was ready when it was saved; one that does not answer within this is broken.</summary>
    private static readonly TimeSpan CloneAgentTimeout = TimeSpan.FromSeconds(15);

    // A clone's agent is already up: a short first probe, doubling to 1 s, keeps QEMU's hold-back of the first request
    // from costing a whole second (docs/templates.md, "The first answer"). Safe since the factory saves a template only
    // once its agent has closed and reopened its port after the factory's hang-up (VmTemplateFactory.HangUpAsync).
    private static readonly TimeSpan CloneFirstProbe = AgentConnector.RestoredGuestFirstProbe;

    /// <summary>How long a template's guest may take to load its background modules before it is saved anyway.</summary>
    private static readonly TimeSpan TemplateModulesBound = TimeSpan.FromSeconds(30);

    /// <summary>The file in the sandbox's run directory that says how its VM started: "cold" or "template KEY".</summary>
    public const string VmOriginFile = "vm-origin";

    /// <summary>
    /// Starts the pod's VM: a clone of the template when templates are on and the pod can use one (then the agent is
    /// already connected), else a cold boot of <paramref name="cold"/> (then the agent is null: the caller connects).
    /// </summary>
    private async Task<(IVirtualMachine Vm, AgentClient? Agent)> StartVmAsync(VmConfig cold, PodNetwork? network,
        VmLaunchRequest request, int memoryMiB, int vcpus, CancellationToken cancellationToken)
    {
        var current = configuration.Current.Configuration;
        if (current.Factory.Template)
        {
            var shape = GuestVmConfig.Build(current, memoryMiB, vcpus, request.RunDirectory, request.SharedDirectory,
                forTemplate: true, shimDebug: _logger.IsEnabled(LogLevel.Debug)) with { NetworkInterfaces = Nics(network) };
            if (Ineligible(shape) is { } ineligible)
            {
                Log.TemplateNotUsed(_logger, request.SandboxId, ineligible);
            }
            else
            {
                try
                {
                    var (clone, agent, key) = await StartCloneAsync((QemuHypervisor)hypervisor, shape, request, cancellationToken)
                        .ConfigureAwait(false);
                    await RecordOriginAsync(request, $"template {key}").ConfigureAwait(false);
                    return (clone, agent);
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                {
                    Log.TemplateFallback(_logger, request.SandboxId, OneLine(e.Message));
                }
            }
        }
        var vm = await hypervisor.StartAsync(cold with { NetworkInterfaces = Nics(network) }, cancellationToken).ConfigureAwait(false);
        await RecordOriginAsync(request, "cold").ConfigureAwait(false);
        return (vm, null);
    }

    /// <summary>Why a pod of <paramref name="shape"/> cannot start from a template, or null. Its NICs are hot-plugged into
    /// the template's empty PCIe ports, so it needs q35 and no more NICs than ports.</summary>
    private string? Ineligible(VmConfig shape) =>
        hypervisor is not QemuHypervisor ? "the hypervisor is not QEMU"
        : shape.NetworkInterfaces.Count == 0 ? null
        : shape.Machine != MachineType.Q35 ? "the pod has network interfaces and microvm has no PCI hot-plug to give a clone its NICs"
        : shape.NetworkInterfaces.Count > shape.HotplugPorts
            ? $"the pod has {shape.NetworkInterfaces.Count} network interfaces and a template has {shape.HotplugPorts} hot-plug ports"
            : null;

    private async Task<(IVirtualMachine Vm, AgentClient Agent, string Key)> StartCloneAsync(QemuHypervisor qemu, VmConfig shape,
        VmLaunchRequest request, CancellationToken cancellationToken)
    {
        var factory = new VmTemplateFactory(qemu, configuration.Current.Configuration.Factory.Directory, _logger);
        var boot = TimeSpan.FromSeconds(configuration.Current.Configuration.Hypervisor.BootTimeoutSeconds);
        var template = await factory.EnsureAsync(shape, (vm, token) => ConnectTemplateGuestAsync(vm, boot, loggerFactory, token),
            cancellationToken).ConfigureAwait(false);
        long started = TimeProvider.System.GetTimestamp();
        var clone = await factory.StartCloneAsync(GuestVmConfig.ForClone(shape, configuration.Current.Configuration), template,
            CloneLoadTimeout, CloneNicTimeout, cancellationToken).ConfigureAwait(false);
        double loaded = TimeProvider.System.GetElapsedTime(started).TotalMilliseconds;
        try
        {
            // As for a cold boot: a clone whose QEMU exits (a state it could not run on) falls back at once rather than
            // after the whole bound.
            var agent = await ConnectAgentAsync(clone, CloneAgentTimeout, cancellationToken, CloneFirstProbe).ConfigureAwait(false);
            double total = TimeProvider.System.GetElapsedTime(started).TotalMilliseconds;
            Log.Restored(_logger, request.SandboxId, template.Key, total, loaded, total - loaded);
            return (clone, agent, template.Key);
        }
        catch
        {
            await clone.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The template's guest is ready to be saved once its agent answers Check and its background modules are loaded
    /// (<see cref="TemplateGuestModules"/>; nothing of the host mounted: it booted with cc.share=late). The factory hangs
    /// the returned connection up and waits for the agent to close its port before the save, so the saved agent is
    /// waiting for a host, which each clone's shim then is.
    /// </summary>
    public static async Task<IAsyncDisposable> ConnectTemplateGuestAsync(QemuVirtualMachine vm, TimeSpan boot,
        ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        var agent = await AgentConnector.ConnectAsync(vm.Agent.ToString(), boot,
            new TtrpcClientOptions { LoggerFactory = loggerFactory }, guestPortOpened: vm.AgentPortOpens is { } opens ? opens.NextOpenAsync : null,
            cancellationToken: cancellationToken).ConfigureAwait(false);
        await TemplateGuestModules.WaitAsync(agent, TemplateModulesBound, TimeProvider.System, cancellationToken).ConfigureAwait(false);
        return agent.Connection;
    }

    private static async Task RecordOriginAsync(VmLaunchRequest request, string origin)
    {
        try
        {
            await File.WriteAllTextAsync(Path.Combine(request.RunDirectory, VmOriginFile), origin + "\n").ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Informational only; the log line says the same.
        }
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" | ");

    private static partial class Log
    {
        [LoggerMessage(EventId = 122, Level = LogLevel.Information,
            Message = "Sandbox {SandboxId}: VM restored from template {Key} in {Milliseconds:0} ms (QEMU start to agent answer: QEMU up, state loaded and any NICs taken {LoadedMilliseconds:0} ms, then agent {AgentMilliseconds:0} ms)")]
        public static partial void Restored(ILogger logger, string sandboxId, string key, double milliseconds,
            double loadedMilliseconds, double agentMilliseconds);

        [LoggerMessage(EventId = 123, Level = LogLevel.Warning,
            Message = "Sandbox {SandboxId}: VM template failed, booting cold: {Reason}")]
        public static partial void TemplateFallback(ILogger logger, string sandboxId, string reason);

        [LoggerMessage(EventId = 124, Level = LogLevel.Information,
            Message = "Sandbox {SandboxId}: VM template not used, booting cold: {Reason}")]
        public static partial void TemplateNotUsed(ILogger logger, string sandboxId, string reason);
    }
}
