using System.Text.Json;

namespace Cc.Hypervisor.Qmp;

// netdev_add, for NICs hot-plugged into a template's clone (docs/templates.md).
public sealed partial class QmpClient
{
    /// <summary>
    /// netdev_add: creates a network backend of <paramref name="type"/> named <paramref name="id"/>.
    /// <paramref name="properties"/> are the backend's own (for a tap: <c>fd</c> as a string, either a name given with
    /// getfd or the number of a descriptor QEMU inherited; <c>vhost</c> as a boolean).
    /// </summary>
    public Task NetdevAddAsync(string type, string id, IReadOnlyDictionary<string, JsonElement> properties, CancellationToken cancellationToken)
    {
        var arguments = new Dictionary<string, JsonElement>(StringComparer.Ordinal)
        {
            ["type"] = JsonSerializer.SerializeToElement(type, QmpJsonContext.Default.String),
            ["id"] = JsonSerializer.SerializeToElement(id, QmpJsonContext.Default.String),
        };
        foreach ((string key, JsonElement value) in properties)
        {
            if (!arguments.TryAdd(key, value))
            {
                throw new ArgumentException($"netdev_add property '{key}' is set by the type/id parameters", nameof(properties));
            }
        }
        return ExecuteAsync("netdev_add", JsonSerializer.SerializeToElement(arguments, QmpJsonContext.Default.DictionaryStringJsonElement), cancellationToken);
    }
}
