namespace Cc.Hypervisor.Qmp;

/// <summary>QEMU answered a command with an error object: <c>{"error": {"class": ..., "desc": ...}}</c>.
/// The connection stays usable.</summary>
public sealed class QmpErrorException(string command, string errorClass, string description)
    : Exception($"QMP {command} failed: {errorClass}: {description}")
{
    /// <summary>The command that failed, e.g. <c>device_del</c>.</summary>
    public string Command { get; } = command;

    /// <summary>QEMU's error class, e.g. <c>GenericError</c>, <c>DeviceNotFound</c>, <c>CommandNotFound</c>.</summary>
    public string ErrorClass { get; } = errorClass;

    /// <summary>QEMU's human-readable description.</summary>
    public string Description { get; } = description;
}

/// <summary>The QMP connection is gone (QEMU exited, the socket closed, or the client was disposed).
/// Every command pending at that moment fails with this, carrying the one recorded reason.</summary>
public sealed class QmpDisconnectedException(string reason, Exception? cause = null)
    : Exception($"QMP connection closed: {reason}", cause)
{
    /// <summary>Why the connection closed, as first recorded.</summary>
    public string Reason { get; } = reason;
}

/// <summary>The peer broke the QMP protocol (bad greeting, unparsable JSON, oversize message). Fatal to the connection.</summary>
public sealed class QmpProtocolException(string message, Exception? inner = null) : Exception(message, inner);
