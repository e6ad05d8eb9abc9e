using System.Text.Json;

namespace Cc.Hypervisor.Qmp;

/// <summary>
/// The one call hot-plug needs from a QMP connection: run a command, get its <c>return</c> value. <see cref="QmpClient"/>
/// is the real one; unit tests answer with canned QEMU replies.
/// </summary>
public interface IQmpExecutor
{
    Task<JsonElement> ExecuteAsync(string command, JsonElement? arguments, CancellationToken cancellationToken);
}
