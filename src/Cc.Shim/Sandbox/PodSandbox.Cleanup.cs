using Cc.Shim.Lifetime;

namespace Cc.Shim.Sandbox;

public sealed partial class PodSandbox
{
    /// <summary>
    /// How long the stop of one VM may take as a clean-up step: the guest's stop grace, QEMU's end, the session's and
    /// the network's teardown, and the watchers' exit are each bounded inside <see cref="SandboxVm.StopAsync"/>; this
    /// bounds their sum.
    /// </summary>
    private static readonly TimeSpan VmStopBound = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Opens the host side of <paramref name="process"/>'s stdio and registers its closing on the sandbox's clean-up
    /// stack at once: a daemon that exits before the process is deleted still closes its FIFOs and reaps its logger.
    /// </summary>
    private async Task OpenStdioAsync(ShimProcess process, ISandboxVm vm, CancellationToken cancellationToken)
    {
        var io = await Io.ProcessIo.StartAsync(process.Key, process.Stdio, vm.Agent, _options.Namespace, _logger,
            cancellationToken, _options.LoggerTimeouts).ConfigureAwait(false);
        process.Io = io;
        process.IoRelease = _cleanup.Register($"close stdio of {process.Key}", _ => io.DisposeAsync().AsTask());
    }

    /// <summary>Closes the process's stdio now (Delete, a dead VM) and takes it off the stack; idempotent.</summary>
    private static async Task CloseStdioAsync(ShimProcess process)
    {
        if (process.IoRelease is { } release)
        {
            await release.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Registers the release of a container's rootfs and shares; call before the first mount is made.</summary>
    private CleanupRegistration RegisterRootfs(string containerId) =>
        _cleanup.Register($"release rootfs of {containerId}",
            token => _rootfs.ReleaseAsync(containerId, _options.SharedDirectory, token));

    /// <summary>Registers the stop of a VM that has just booted; a stop registered after the sandbox began its own runs at once.</summary>
    private CleanupRegistration RegisterVm(SandboxVm vm) =>
        _cleanup.Register($"stop VM of sandbox {_options.SandboxId}", token => vm.StopAsync(token), VmStopBound);
}
