using Cc.Agent.Containers;
using Cc.Agent.Logging;
using Cc.Ttrpc;

namespace Cc.Agent.Service;

// The one place where failures become ttrpc statuses.
public sealed partial class AgentService
{
    public static StatusCode Map(AgentErrorKind kind) => kind switch
    {
        AgentErrorKind.InvalidArgument => StatusCode.InvalidArgument,
        AgentErrorKind.NotFound => StatusCode.NotFound,
        AgentErrorKind.AlreadyExists => StatusCode.AlreadyExists,
        AgentErrorKind.FailedPrecondition => StatusCode.FailedPrecondition,
        AgentErrorKind.Unimplemented => StatusCode.Unimplemented,
        _ => StatusCode.Internal,
    };

    private async ValueTask<T> Guard<T>(string method, Func<Task<T>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (AgentErrorException e)
        {
            var code = Map(e.Kind);
            AgentLog.RequestFailed(_logger, method, code.ToString(), e.Message);
            throw new TtrpcException(code, e.Message, e);
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            // The system said no (mount, sethostname, clock, a file): the request's fault or the guest's,
            // reported with the system's words.
            AgentLog.RequestFailed(_logger, method, nameof(StatusCode.Internal), e.Message);
            throw new TtrpcException(e is ArgumentException ? StatusCode.InvalidArgument : StatusCode.Internal, e.Message, e);
        }
        catch (Exception e) when (e is not (OperationCanceledException or TtrpcException))
        {
            AgentLog.RequestCrashed(_logger, method, e);
            throw new TtrpcException(StatusCode.Internal, $"{method}: {e.GetType().Name}: {e.Message}", e);
        }
    }
}
