namespace Cc.Shim.Sandbox;

// The domain's failures, named for the condition. Tasks/ErrorMapping.cs is the one place that turns them into ttrpc
// status codes; nothing else in the shim knows about status codes.

/// <summary>No such container or process (containerd: NotFound; CRI ignores it on Kill).</summary>
public sealed class NotFoundException(string message) : Exception(message);

/// <summary>A container or exec id is already in use (AlreadyExists).</summary>
public sealed class AlreadyExistsException(string message) : Exception(message);

/// <summary>The request is malformed (InvalidArgument).</summary>
public sealed class InvalidRequestException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The request is valid but the object's state forbids it (FailedPrecondition).</summary>
public sealed class PreconditionFailedException(string message) : Exception(message);

/// <summary>
/// The one lifecycle error: a state machine was asked for a transition it does not have (FailedPrecondition). The text
/// is always "invalid state transition: A => B" so logs and callers can recognise it.
/// </summary>
public sealed class InvalidStateTransitionException(string from, string to, string subject)
    : Exception($"invalid state transition: {from} => {to} ({subject})")
{
    public string From { get; } = from;
    public string To { get; } = to;
}

/// <summary>The shim deliberately does not support this (Unimplemented); the message says why.</summary>
public sealed class UnsupportedException(string message) : Exception(message);

/// <summary>The VM or its agent is gone or unreachable (Unavailable).</summary>
public sealed class SandboxUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The pod's VM could not grow for a container being created (docs/hotplug.md); the Create fails with nothing made. Its
/// status is the cause's (a QMP error: Unknown, as runc's failed cgroup setup; the VM gone: Unavailable).
/// </summary>
public sealed class VmResizeFailedException(string message, Exception inner) : Exception(message, inner);
