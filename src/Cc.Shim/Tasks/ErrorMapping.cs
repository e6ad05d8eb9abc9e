using Cc.Shim.Configuration;
using Cc.Shim.Sandbox;
using Cc.Ttrpc;

namespace Cc.Shim.Tasks;

/// <summary>
/// The one place domain failures become ttrpc status codes (protocol.md §3.8). containerd strips a trailing
/// ": not found"-style class text when it re-wraps errors, so messages keep the runc wording.
/// </summary>
public static class ErrorMapping
{
    public static StatusCode CodeOf(Exception exception) => exception switch
    {
        TtrpcException t => t.Code,
        NotFoundException => StatusCode.NotFound,
        AlreadyExistsException => StatusCode.AlreadyExists,
        InvalidRequestException => StatusCode.InvalidArgument,
        InvalidStateTransitionException => StatusCode.FailedPrecondition,
        PreconditionFailedException => StatusCode.FailedPrecondition,
        UnsupportedException => StatusCode.Unimplemented,
        SandboxUnavailableException => StatusCode.Unavailable,
        VmResizeFailedException { InnerException: { } cause } => CodeOf(cause),
        ConfigurationException => StatusCode.FailedPrecondition,
        TimeoutException => StatusCode.DeadlineExceeded,
        _ => StatusCode.Unknown,
    };

    /// <summary>
    /// The exception a handler throws for <paramref name="exception"/>. Cancellation is left alone: the ttrpc server
    /// turns the call's own cancellation into Cancelled/DeadlineExceeded.
    /// </summary>
    public static Exception ToRpcException(Exception exception) => exception switch
    {
        TtrpcException or OperationCanceledException => exception,
        _ => new TtrpcException(CodeOf(exception), exception.Message, exception),
    };

    /// <summary>Runs a handler body and maps whatever it throws.</summary>
    public static async ValueTask<T> Guard<T>(Func<Task<T>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not TtrpcException and not OperationCanceledException)
        {
            throw ToRpcException(e);
        }
    }

    /// <summary>
    /// Runs a handler body with containerd's deadline for this call (<c>timeout_nano</c>) as the
    /// <see cref="CallerDeadline"/> of the agent calls it makes, and maps whatever it throws.
    /// </summary>
    public static ValueTask<T> Guard<T>(ServerCallContext context, Func<Task<T>> body) => Guard(() =>
    {
        // Set inside the delegate's own flow: it reaches the body's awaits, never the ttrpc server's caller.
        CallerDeadline.Set(context.Deadline);
        return body();
    });

    public static ValueTask<T> GuardSync<T>(Func<T> body) => Guard(() => Task.FromResult(body()));
}
