namespace Cc.Shim.Lifetime;

/// <summary>
/// The daemon's one exit signal: set by a Shutdown RPC with no containers left, by SIGTERM/SIGINT, or when the task
/// service decides the daemon has nothing left to serve. The first reason wins and is what the log shows.
/// </summary>
public sealed class ShimLifetime : IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private string? _reason;

    public CancellationToken Stopping => _stopping.Token;

    public string? Reason => Volatile.Read(ref _reason);

    public void RequestStop(string reason)
    {
        if (Interlocked.CompareExchange(ref _reason, reason, null) is null)
        {
            _stopping.Cancel();
        }
    }

    public void Dispose() => _stopping.Dispose();
}
