namespace Cc.Hypervisor.Templates;

/// <summary>Saving or loading a VM's device state failed (QEMU's reason, and its last stderr lines, in the message).</summary>
public sealed class VmStateException(string message, Exception? inner = null) : Exception(message, inner);
