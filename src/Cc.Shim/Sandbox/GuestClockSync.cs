using Microsoft.Extensions.Logging;

namespace Cc.Shim.Sandbox;

/// <summary>
/// Keeps the guest's wall clock (CLOCK_REALTIME) on the host's: sends the host's time through the agent's SetTime every
/// <see cref="Interval"/> while the VM runs (docs/reliability.md, "Time in the guest"). The guest has no NTP and, under
/// TCG, no RTC worth trusting; the boot-time setting in CreateSandbox alone lets a guest clock that runs at a slightly
/// wrong rate wander for the pod's whole life. The guest's CLOCK_MONOTONIC (what sleep and timers use) is not touched
/// here: its rate is right only if the guest kernel's TSC frequency is (tsc_early_khz on the kernel command line).
/// One failed call is logged and the next tick tries again; the loop ends with <see cref="DisposeAsync"/>.
/// </summary>
public sealed partial class GuestClockSync : IAsyncDisposable
{
    /// <summary>Short enough that a guest drifting by 1% stays within a second of the host's clock.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(60);

    /// <summary>A SetTime that takes longer than this is abandoned; the next tick sends a fresh time.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _disposed;

    /// <param name="setTime">Sends one host time to the guest; given the host time and a token bounded by <see cref="CallTimeout"/>.</param>
    public GuestClockSync(Func<DateTimeOffset, CancellationToken, Task> setTime, TimeProvider time, ILogger logger, string sandboxId)
    {
        _loop = RunAsync(setTime, time, logger, sandboxId, _stop.Token);
    }

    private static async Task RunAsync(Func<DateTimeOffset, CancellationToken, Task> setTime, TimeProvider time, ILogger logger,
        string sandboxId, CancellationToken stop)
    {
        // The loop outlives the Create that boots the VM: that call's deadline must never reach a tick's SetTime.
        CallerDeadline.Detach();
        using var ticks = new PeriodicTimer(Interval, time);
        try
        {
            while (await ticks.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                using var call = CancellationTokenSource.CreateLinkedTokenSource(stop);
                call.CancelAfter(CallTimeout);
                try
                {
                    await setTime(time.GetUtcNow(), call.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (!stop.IsCancellationRequested)
                {
                    Log.SyncFailed(logger, e, sandboxId);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>Ends the loop and waits for it; idempotent (the VM's stop and its disposal both call it).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 130, Level = LogLevel.Warning, Message = "Sandbox {SandboxId}: the guest clock was not re-synchronised this time")]
        public static partial void SyncFailed(ILogger logger, Exception e, string sandboxId);
    }
}
