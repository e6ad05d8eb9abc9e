using Cc.Hypervisor.Qmp;
using Cc.Hypervisor.Templates;

namespace Cc.Hypervisor.Qemu;

// Device state to and from a file, for VM templates (docs/templates.md). QEMU 7.2 has no file: migration, so the
// stream goes through exec:cat. With x-ignore-shared the RAM of a share=on backend is not in the stream at all: the
// template's RAM is its memory file, which the clones map copy-on-write.
public sealed partial class QemuVirtualMachine
{
    /// <summary>The capability that leaves shared RAM out of the stream; both sides must set it.</summary>
    public const string IgnoreSharedCapability = "x-ignore-shared";

    private static readonly TimeSpan MigrationPollInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Stops the vCPUs and writes the device state to <paramref name="statePath"/>; the VM stays paused. QEMU refuses
    /// while a 9p share is mounted in the guest (the reason comes back in the exception).
    /// </summary>
    public async Task SaveStateAsync(string statePath, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string uri = "exec:cat > " + ShellQuote(statePath);
        await RunMigrationAsync("save", timeout, cancellationToken, async token =>
        {
            await Qmp.SetMigrationCapabilityAsync(IgnoreSharedCapability, true, token).ConfigureAwait(false);
            await Qmp.PauseAsync(token).ConfigureAwait(false);
            await Qmp.MigrateAsync(uri, token).ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// Loads the device state from <paramref name="statePath"/> into this VM (started with
    /// <see cref="VmConfig.IncomingMigration"/>) and makes sure its vCPUs run. A state QEMU cannot load makes QEMU exit;
    /// either way the failure is a <see cref="VmStateException"/> and the caller disposes the VM.
    /// </summary>
    public async Task LoadStateAsync(string statePath, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!File.Exists(statePath))
        {
            throw new VmStateException($"the saved state {statePath} does not exist");
        }
        string uri = "exec:cat " + ShellQuote(statePath);
        await RunMigrationAsync("load", timeout, cancellationToken, async token =>
        {
            await Qmp.SetMigrationCapabilityAsync(IgnoreSharedCapability, true, token).ConfigureAwait(false);
            await Qmp.MigrateIncomingAsync(uri, token).ConfigureAwait(false);
        }).ConfigureAwait(false);
        try
        {
            // QEMU autostarts after an incoming migration unless -S was given; cont covers a QEMU that did not.
            QmpStatus status = await Qmp.QueryStatusAsync(cancellationToken).ConfigureAwait(false);
            if (!status.Running)
            {
                await Qmp.ResumeAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is QmpErrorException or QmpDisconnectedException or QmpProtocolException)
        {
            throw new VmStateException($"the restored VM did not resume: {e.Message}{Diagnostics()}", e);
        }
    }

    private async Task RunMigrationAsync(string what, TimeSpan timeout, CancellationToken cancellationToken,
        Func<CancellationToken, Task> begin)
    {
        using var deadline = new CancellationTokenSource(timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            await begin(linked.Token).ConfigureAwait(false);
            while (true)
            {
                (string status, string? error) = await Qmp.QueryMigrateAsync(linked.Token).ConfigureAwait(false);
                switch (status)
                {
                    case "completed":
                        return;
                    case "failed" or "cancelled":
                        throw new VmStateException($"{what} of the VM state {status}: {error ?? "(no reason given)"}{Diagnostics()}");
                }
                await Task.Delay(MigrationPollInterval, _time, linked.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is QmpErrorException or QmpDisconnectedException or QmpProtocolException)
        {
            throw new VmStateException($"{what} of the VM state failed: {e.Message}{Diagnostics()}", e);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new VmStateException($"{what} of the VM state did not complete within {timeout.TotalSeconds:0.#} s{Diagnostics()}");
        }
    }

    private string Diagnostics() => _process.Tail() is { Length: > 0 } tail ? Environment.NewLine + tail : "";

    /// <summary>exec: URIs run through /bin/sh -c; paths are ours, but a quote in one would change the command.</summary>
    private static string ShellQuote(string path) =>
        path.Contains('\'', StringComparison.Ordinal)
            ? throw new VmConfigException($"state path {path} contains a single quote")
            : "'" + path + "'";
}
