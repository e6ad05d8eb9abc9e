using System.Text.Json;

namespace Cc.Hypervisor.Qmp;

// Typed wrappers for the commands the driver and the shim use. Arbitrary commands go through ExecuteAsync.
public sealed partial class QmpClient
{
    /// <summary>query-status: the VM's run state.</summary>
    public async Task<QmpStatus> QueryStatusAsync(CancellationToken cancellationToken)
    {
        JsonElement result = await ExecuteAsync("query-status", null, cancellationToken).ConfigureAwait(false);
        QmpStatusInfo info = result.Deserialize(QmpJsonContext.Default.QmpStatusInfo)
            ?? throw new QmpProtocolException("query-status returned null");
        return new QmpStatus(info.Status, info.Running);
    }

    /// <summary>
    /// quit: QEMU exits at once, without telling the guest. QEMU may close the socket before its reply
    /// reaches us; a disconnect after quit was sent is therefore success.
    /// </summary>
    public async Task QuitAsync(CancellationToken cancellationToken)
    {
        try
        {
            await ExecuteAsync("quit", null, cancellationToken).ConfigureAwait(false);
        }
        catch (QmpDisconnectedException)
        {
            // Expected race: the process is going away.
        }
    }

    /// <summary>system_powerdown: presses the ACPI power button. Only a guest that handles ACPI
    /// events shuts down; our agent does not, so the driver stops VMs with quit.</summary>
    public Task SystemPowerdownAsync(CancellationToken cancellationToken) => ExecuteAsync("system_powerdown", null, cancellationToken);

    /// <summary>stop: pauses every vCPU (RunState "paused"); emits STOP.</summary>
    public Task PauseAsync(CancellationToken cancellationToken) => ExecuteAsync("stop", null, cancellationToken);

    /// <summary>cont: resumes the vCPUs; emits RESUME.</summary>
    public Task ResumeAsync(CancellationToken cancellationToken) => ExecuteAsync("cont", null, cancellationToken);

    /// <summary>
    /// device_add: hotplugs a device. <paramref name="properties"/> are the device's own properties
    /// (e.g. <c>bus</c>, <c>drive</c>); QEMU checks their JSON types, so pass numbers and booleans as such.
    /// </summary>
    public Task DeviceAddAsync(string driver, string id, IReadOnlyDictionary<string, JsonElement>? properties, CancellationToken cancellationToken)
    {
        var arguments = new Dictionary<string, JsonElement>(StringComparer.Ordinal)
        {
            ["driver"] = JsonSerializer.SerializeToElement(driver, QmpJsonContext.Default.String),
            ["id"] = JsonSerializer.SerializeToElement(id, QmpJsonContext.Default.String),
        };
        foreach ((string key, JsonElement value) in properties ?? new Dictionary<string, JsonElement>())
        {
            if (!arguments.TryAdd(key, value))
            {
                throw new ArgumentException($"device_add property '{key}' is set by the driver/id parameters", nameof(properties));
            }
        }
        return ExecuteAsync("device_add", JsonSerializer.SerializeToElement(arguments, QmpJsonContext.Default.DictionaryStringJsonElement), cancellationToken);
    }

    /// <summary>
    /// device_del: asks the guest to release a device. The reply only means the request was accepted;
    /// the device is gone when DEVICE_DELETED with its id arrives (subscribe before calling).
    /// </summary>
    public Task DeviceDelAsync(string id, CancellationToken cancellationToken) =>
        ExecuteAsync("device_del", JsonSerializer.SerializeToElement(new QmpDeviceIdArguments { Id = id }, QmpJsonContext.Default.QmpDeviceIdArguments), cancellationToken);
}
