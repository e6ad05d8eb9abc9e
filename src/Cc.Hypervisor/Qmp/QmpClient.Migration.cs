using System.Text.Json;

namespace Cc.Hypervisor.Qmp;

// The migration commands VM templates use (docs/templates.md): save a stopped VM's device state, load it into a
// QEMU started with -incoming defer.
public sealed partial class QmpClient
{
    /// <summary>migrate-set-capabilities with one capability (e.g. x-ignore-shared).</summary>
    public Task SetMigrationCapabilityAsync(string capability, bool state, CancellationToken cancellationToken) =>
        ExecuteAsync("migrate-set-capabilities", JsonSerializer.SerializeToElement(
            new QmpMigrationCapabilities { Capabilities = [new QmpMigrationCapability { Capability = capability, State = state }] },
            QmpJsonContext.Default.QmpMigrationCapabilities), cancellationToken);

    /// <summary>migrate: starts sending the VM's state to <paramref name="uri"/>; poll <see cref="QueryMigrateAsync"/>.</summary>
    public Task MigrateAsync(string uri, CancellationToken cancellationToken) =>
        ExecuteAsync("migrate", JsonSerializer.SerializeToElement(new QmpMigrationUri { Uri = uri },
            QmpJsonContext.Default.QmpMigrationUri), cancellationToken);

    /// <summary>migrate-incoming: starts loading the state from <paramref name="uri"/> (QEMU started with -incoming defer).</summary>
    public Task MigrateIncomingAsync(string uri, CancellationToken cancellationToken) =>
        ExecuteAsync("migrate-incoming", JsonSerializer.SerializeToElement(new QmpMigrationUri { Uri = uri },
            QmpJsonContext.Default.QmpMigrationUri), cancellationToken);

    /// <summary>query-migrate: the migration's status ("active", "completed", "failed", ...; "none" before any) and
    /// QEMU's error description when it failed.</summary>
    public async Task<(string Status, string? Error)> QueryMigrateAsync(CancellationToken cancellationToken)
    {
        JsonElement result = await ExecuteAsync("query-migrate", null, cancellationToken).ConfigureAwait(false);
        QmpMigrationInfo info = result.Deserialize(QmpJsonContext.Default.QmpMigrationInfo) ?? new QmpMigrationInfo();
        return (info.Status ?? "none", info.ErrorDesc);
    }
}
