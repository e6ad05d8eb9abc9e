namespace Cc.Agent.Containers;

// What went wrong, in the terms the service maps to ttrpc status codes (AgentService.Map): the
// domain never sees protobuf or ttrpc.
public enum AgentErrorKind
{
    InvalidArgument,
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    Unimplemented,
    Internal,
}

public sealed class AgentErrorException(AgentErrorKind kind, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public AgentErrorKind Kind { get; } = kind;

    public static AgentErrorException NotFound(string message) => new(AgentErrorKind.NotFound, message);

    public static AgentErrorException Invalid(string message) => new(AgentErrorKind.InvalidArgument, message);

    public static AgentErrorException Precondition(string message) => new(AgentErrorKind.FailedPrecondition, message);
}
