using System.Collections.Concurrent;
using Cc.Agent.Protocol;
using Cc.Ttrpc;

namespace Cc.Shim.Tests.Fakes;

/// <summary>
/// An agent that never answers (a hung guest): every call waits until its own deadline (<c>timeout_nano</c>) or the
/// connection ends. Records, per method, the deadline the call arrived with and whether the agent saw it cancelled.
/// </summary>
public sealed class HungAgent : AgentServiceBase
{
    public ConcurrentDictionary<string, DateTimeOffset?> Deadlines { get; } = new();

    /// <summary>Completes with the method's name when the agent's handler saw its call's token fire.</summary>
    public ConcurrentDictionary<string, TaskCompletionSource> Cancelled { get; } = new();

    public TaskCompletionSource CancelledOf(string method) =>
        Cancelled.GetOrAdd(method, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    // Every rpc of the agent API arrives here: the generated base routes what is not overridden to this fallback.
    protected override async ValueTask<T> UnimplementedAsync<T>(ServerCallContext context)
    {
        Deadlines[context.Method] = context.Deadline;
        try
        {
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        }
        finally
        {
            CancelledOf(context.Method).TrySetResult();
        }
        throw new InvalidOperationException("unreachable");
    }
}
