namespace Cc.Hypervisor;

/// <summary>The VM configuration cannot work on this host (missing file, bad size, unsupported
/// combination). Raised before anything is started.</summary>
public sealed class VmConfigException(string message) : Exception(message);

/// <summary>The hypervisor did not come up: it exited early, or its monitor did not answer in time.
/// <see cref="Diagnostics"/> holds its last stderr lines.</summary>
public sealed class VmStartException(string message, string diagnostics, Exception? inner = null)
    : Exception(diagnostics.Length == 0 ? message : message + Environment.NewLine + diagnostics, inner)
{
    /// <summary>The hypervisor's last stderr lines, possibly empty.</summary>
    public string Diagnostics { get; } = diagnostics;
}
