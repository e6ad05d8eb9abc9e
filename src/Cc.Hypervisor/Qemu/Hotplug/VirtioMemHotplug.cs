using System.Text.Json;
using Cc.Hypervisor.Qemu.Devices;
using Cc.Hypervisor.Qmp;

namespace Cc.Hypervisor.Qemu.Hotplug;

/// <summary>
/// Memory hot-plug through the VM's <see cref="VirtioMemDevice"/>: <c>qom-set requested-size</c> asks the guest's
/// virtio_mem driver to plug (or unplug) blocks until its plugged <c>size</c> equals the request; the device's
/// <c>size</c> property is what the guest has actually taken, so waiting for it is waiting for the guest. A shrink the
/// guest cannot finish (pages in use that it cannot move) stops short; the request stays, and the driver keeps trying.
/// </summary>
public sealed class VirtioMemHotplug(IQmpExecutor qmp, TimeProvider time, TimeSpan bound)
{
    private const string Path = CpuSlot.PeripheralPrefix + VirtioMemDevice.DeviceId;

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>What the guest has plugged now, in bytes.</summary>
    public async Task<long> PluggedBytesAsync(CancellationToken cancellationToken) =>
        (await QomGetAsync("size", cancellationToken).ConfigureAwait(false)).GetInt64();

    /// <summary>
    /// Requests <paramref name="bytes"/> (rounded up to whole blocks) and waits until the guest has plugged exactly that
    /// or the bound passed; returns the plugged size then.
    /// </summary>
    public async Task<long> ResizeAsync(long bytes, CancellationToken cancellationToken)
    {
        long requested = (bytes + VirtioMemDevice.BlockBytes - 1) / VirtioMemDevice.BlockBytes * VirtioMemDevice.BlockBytes;
        Dictionary<string, JsonElement> arguments = new(StringComparer.Ordinal)
        {
            ["path"] = JsonSerializer.SerializeToElement(Path, QmpJsonContext.Default.String),
            ["property"] = JsonSerializer.SerializeToElement("requested-size", QmpJsonContext.Default.String),
            ["value"] = JsonSerializer.SerializeToElement(requested, QmpJsonContext.Default.Int64),
        };
        await qmp.ExecuteAsync("qom-set", JsonSerializer.SerializeToElement(arguments,
            QmpJsonContext.Default.DictionaryStringJsonElement), cancellationToken).ConfigureAwait(false);
        long started = time.GetTimestamp();
        while (true)
        {
            long plugged = await PluggedBytesAsync(cancellationToken).ConfigureAwait(false);
            if (plugged == requested || time.GetElapsedTime(started) >= bound)
            {
                return plugged;
            }
            await Task.Delay(PollInterval, time, cancellationToken).ConfigureAwait(false);
        }
    }

    private Task<JsonElement> QomGetAsync(string property, CancellationToken cancellationToken)
    {
        Dictionary<string, JsonElement> arguments = new(StringComparer.Ordinal)
        {
            ["path"] = JsonSerializer.SerializeToElement(Path, QmpJsonContext.Default.String),
            ["property"] = JsonSerializer.SerializeToElement(property, QmpJsonContext.Default.String),
        };
        return qmp.ExecuteAsync("qom-get", JsonSerializer.SerializeToElement(arguments,
            QmpJsonContext.Default.DictionaryStringJsonElement), cancellationToken);
    }
}
