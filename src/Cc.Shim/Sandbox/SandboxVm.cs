using Cc.Shim.Lifetime;
using Cc.Ttrpc;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Sandbox;

/// <summary>
/// How the sandbox decides that a live-looking VM is dead: the agent is asked <c>Check</c> every
/// <paramref name="Interval"/> and must answer within <paramref name="Timeout"/>. <paramref name="ExitWatchGrace"/>
/// bounds how long a process's exit watch, whose guest wait failed, waits to learn whether the VM died (then the
/// VM's failure ends the process) before it records exit 255 itself.
/// </summary>
public sealed record SandboxVmHealth(TimeSpan Interval, TimeSpan Timeout, TimeSpan ExitWatchGrace)
{
    public static SandboxVmHealth Default { get; } = new(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10));
}

/// <summary>
/// One boot of the pod's VM and everything that lives exactly as long as it: the agent session (<see cref="ISandboxVm"/>),
/// the VM-exit watch, the agent health probe, the OOM long-poll, and the per-process exit watches the sandbox starts
/// through <see cref="Watch"/>. Every watcher gets a token that fires when the VM leaves <see cref="SandboxVmState.Ready"/>,
/// and <see cref="StopAsync"/> awaits them (bounded): watchers end with the state that owns them. What the boot
/// acquires registers its release on <see cref="_cleanup"/> (the watcher set at construction, the session once launched,
/// the guest's orderly stop once Ready), and the stop runs it in reverse: guest stop, session (QEMU, taps, pid file),
/// watchers.
/// State moves follow <see cref="SandboxVmStateMachine"/>; <see cref="_lock"/> guards <see cref="_state"/>,
/// <see cref="_vm"/>, <see cref="_failure"/>, <see cref="_stop"/> and <see cref="_watchers"/>.
/// </summary>
public sealed partial class SandboxVm
{
    /// <summary>How long a stop waits for the watchers after their token fired; they only await cancellable calls.</summary>
    private static readonly TimeSpan WatcherExitBound = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Bound of the guest's orderly stop (DestroySandbox, then QEMU's own stop within hypervisor.stop_grace_seconds);
    /// past it the session's release kills QEMU anyway.
    /// </summary>
    private static readonly TimeSpan GuestStopBound = TimeSpan.FromSeconds(30);

    /// <summary>Bound of the session's release: QEMU's kill and reap, the agent connection, the taps' redirects.</summary>
    private static readonly TimeSpan SessionReleaseBound = TimeSpan.FromSeconds(20);

    /// <summary>How long the OOM watch waits before asking again after a failed long-poll.</summary>
    private static readonly TimeSpan OomRetryPause = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private readonly string _subject;
    private readonly SandboxVmHealth _health;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _readyScope = new();
    private readonly TaskCompletionSource<string?> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Task> _watchers = [];
    private readonly CleanupStack _cleanup;
    private readonly SemaphoreSlim _resizeGate = new(1, 1);
    private SandboxVmState _state = SandboxVmState.Empty;
    private ISandboxVm? _vm;
    private string? _failure;
    private Task? _stop;

    public SandboxVm(string sandboxId, SandboxVmHealth health, TimeProvider time, ILogger logger)
    {
        _subject = $"sandbox {sandboxId} VM";
        _health = health;
        _time = time;
        _logger = logger;
        _cleanup = new CleanupStack(_subject, logger, time: time);
        _cleanup.Register("end watchers", EndWatchersAsync, WatcherExitBound);
    }

    /// <summary>The health-check settings this VM was booted with.</summary>
    public SandboxVmHealth Health => _health;

    public SandboxVmState State
    {
        get
        {
            lock (_lock)
            {
                return _state;
            }
        }
    }

    /// <summary>The VMM's host pid once launched (kept after its end: the pid containerd was told), else 0.</summary>
    public int Pid
    {
        get
        {
            lock (_lock)
            {
                return _vm?.Pid ?? 0;
            }
        }
    }

    /// <summary>
    /// Completes when the VM leaves <see cref="SandboxVmState.Ready"/> (or never reaches it): with the failure's reason
    /// when it died, with null when it was stopped on purpose.
    /// </summary>
    public Task<string?> Ended => _ended.Task;

    /// <summary>
    /// Completes when the VMM process has ended (at once when it never started). A stop completes it early in its run
    /// (the VMM goes before the session's release), so a caller that only needs the VM gone awaits this, not the stop.
    /// </summary>
    public Task VmmExited
    {
        get
        {
            lock (_lock)
            {
                return _vm?.Exited ?? Task.CompletedTask;
            }
        }
    }

    /// <summary>
    /// Boots the VM: Empty → Booting → Ready, then starts the VM's own watchers. A failed launch moves to Stopped
    /// (the launcher leaves nothing behind) and rethrows. <paramref name="onOom"/> receives the id of each container
    /// the guest reports an OOM kill in, for as long as the VM is Ready.
    /// </summary>
    public async Task BootAsync(IVmLauncher launcher, VmLaunchRequest request, Action<GuestOomKills> onOom,
        CancellationToken cancellationToken)
    {
        Move(SandboxVmState.Booting);
        ISandboxVm vm;
        try
        {
            vm = await launcher.LaunchAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Move(SandboxVmState.Stopped);
            _readyScope.Cancel();
            _ended.TrySetResult(null);
            throw;
        }
        _cleanup.Register("release the VM session", _ => vm.DisposeAsync().AsTask(), SessionReleaseBound);
        // A failed VM is already dead (or unresponsive): asking its agent would only wait out a deadline.
        _cleanup.Register("stop the guest", token => HasFailed ? Task.CompletedTask : vm.StopAsync(token), GuestStopBound);
        lock (_lock)
        {
            _vm = vm;
            MoveLocked(SandboxVmState.Ready);
        }
        Log.Ready(_logger, _subject, vm.Pid);
        Watch(token => WatchVmExitAsync(vm, token));
        Watch(token => ProbeAgentAsync(vm, token));
        Watch(token => WatchOomAsync(vm, onOom, token));
    }

    private bool HasFailed
    {
        get
        {
            lock (_lock)
            {
                return _failure is not null;
            }
        }
    }

    /// <summary>The VM for a guest call; anything but Ready fails fast with FailedPrecondition, naming why.</summary>
    public ISandboxVm Require()
    {
        lock (_lock)
        {
            if (_state == SandboxVmState.Ready && _vm is { } vm)
            {
                return vm;
            }
            throw new PreconditionFailedException(DescribeLocked());
        }
    }

    /// <summary>
    /// Resizes the Ready VM towards <paramref name="target"/> (clamped to its headroom), one resize at a time; null when
    /// the VM's size is fixed. Not Ready is FailedPrecondition, as for any guest call. The resize is an operation of the
    /// Ready state, not a state of its own: the VM serves every other call meanwhile.
    /// </summary>
    public async Task<VmSize?> ResizeAsync(VmSize target, CancellationToken cancellationToken)
    {
        if (Require().Resize is not { } resize)
        {
            return null;
        }
        await _resizeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var clamped = new VmSize(Math.Clamp(target.MemoryMiB, resize.Boot.MemoryMiB, resize.Max.MemoryMiB),
                Math.Clamp(target.Vcpus, resize.Boot.Vcpus, resize.Max.Vcpus));
            if (clamped == resize.Current)
            {
                return resize.Current;
            }
            Require();
            var before = resize.Current;
            var reached = await resize.ResizeAsync(clamped, cancellationToken).ConfigureAwait(false);
            Log.Resized(_logger, _subject, before.ToString(), reached.ToString(), target.ToString());
            return reached;
        }
        finally
        {
            _resizeGate.Release();
        }
    }

    /// <summary>The VM's size now, or null when it cannot change (or the VM is not Ready).</summary>
    public VmSize? Size => TryGetReady(out var vm) ? vm.Resize?.Current : null;

    /// <summary>The VM if it is Ready; never throws.</summary>
    public bool TryGetReady(out ISandboxVm vm)
    {
        lock (_lock)
        {
            vm = _vm!;
            return _state == SandboxVmState.Ready && _vm is not null;
        }
    }

    /// <summary>"sandbox X VM: …" — what a call refused for this VM's state is told.</summary>
    public string Describe()
    {
        lock (_lock)
        {
            return DescribeLocked();
        }
    }

    /// <summary>
    /// Runs <paramref name="watcher"/> for as long as the VM is Ready: its token fires when the VM fails or stops, and
    /// a stop awaits it. Ignored (the watcher never runs) when the VM is no longer Ready.
    /// </summary>
    public void Watch(Func<CancellationToken, Task> watcher)
    {
        lock (_lock)
        {
            if (_state != SandboxVmState.Ready)
            {
                return;
            }
            _watchers.RemoveAll(t => t.IsCompleted);
            var token = _readyScope.Token;
            // A watcher outlives the call that started it: it must not inherit that call's deadline.
            _watchers.Add(Task.Run(() =>
            {
                CallerDeadline.Detach();
                return watcher(token);
            }, CancellationToken.None));
        }
    }

    /// <summary>
    /// Ready → Failed, once: the first reason wins and a VM that is already stopping is not failed (its end was asked
    /// for). Fires the watchers' token and completes <see cref="Ended"/> with the reason.
    /// </summary>
    public void Fail(string reason)
    {
        lock (_lock)
        {
            if (_state != SandboxVmState.Ready)
            {
                return;
            }
            MoveLocked(SandboxVmState.Failed);
            _failure = reason;
        }
        Log.Failed(_logger, _subject, reason);
        _readyScope.Cancel();
        _ended.TrySetResult(reason);
    }

    /// <summary>
    /// Ready or Failed → Stopping → Stopped: ends the watchers, asks the guest and the VMM to stop (bounded by the VM's
    /// own stop grace), then disposes the session, which removes the VMM's run directory and the pod network's host
    /// side. Idempotent: every caller awaits the same stop. An Empty VM moves straight to Stopped.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_stop is null)
            {
                if (_state == SandboxVmState.Empty)
                {
                    MoveLocked(SandboxVmState.Stopped);
                    _stop = Task.CompletedTask;
                    _ended.TrySetResult(null);
                }
                else if (_state == SandboxVmState.Stopped)
                {
                    _stop = Task.CompletedTask; // a launch that failed
                }
                else
                {
                    MoveLocked(SandboxVmState.Stopping);
                    _stop = Task.Run(StopCoreAsync, CancellationToken.None);
                }
            }
            return _stop.WaitAsync(cancellationToken);
        }
    }

    private async Task StopCoreAsync()
    {
        await _readyScope.CancelAsync().ConfigureAwait(false);
        _ended.TrySetResult(null);
        await _cleanup.RunAsync().ConfigureAwait(false);
        Move(SandboxVmState.Stopped);
        Log.Stopped(_logger, _subject);
    }

    /// <summary>The watchers' token has fired (the VM left Ready); they only await cancellable calls.</summary>
    private Task EndWatchersAsync(CancellationToken token)
    {
        Task[] watchers;
        lock (_lock)
        {
            watchers = [.. _watchers];
            _watchers.Clear();
        }
        return Task.WhenAll(watchers).WaitAsync(token);
    }

    private void Move(SandboxVmState to)
    {
        lock (_lock)
        {
            MoveLocked(to);
        }
    }

    private void MoveLocked(SandboxVmState to)
    {
        SandboxVmStateMachine.Check(_state, to, _subject);
        _state = to;
    }

    private string DescribeLocked() => _state switch
    {
        SandboxVmState.Failed or SandboxVmState.Stopping or SandboxVmState.Stopped when _failure is not null =>
            $"{_subject} died: {_failure}",
        SandboxVmState.Empty or SandboxVmState.Booting => $"{_subject} is not running yet",
        _ => $"{_subject} is {_state.ToString().ToLowerInvariant()}",
    };

    /// <summary>The VMM's end while Ready is a failure (a requested stop leaves Ready first, which fires the token).</summary>
    private async Task WatchVmExitAsync(ISandboxVm vm, CancellationToken token)
    {
        try
        {
            await vm.Exited.WaitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            return;
        }
        catch (Exception)
        {
            // Exited never faults by contract; if it does, the VM is no more usable than if it had ended.
        }
        Fail("the VM exited (VMM killed, guest panic or guest shutdown)");
    }

    /// <summary>The agent must answer Check within the health timeout; silence or a lost session is a dead VM.</summary>
    private async Task ProbeAgentAsync(ISandboxVm vm, CancellationToken token)
    {
        while (true)
        {
            try
            {
                await Task.Delay(_health.Interval, _time, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            using var timeout = new CancellationTokenSource(_health.Timeout, _time);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token, timeout.Token);
            try
            {
                await vm.Agent.PingAsync(_health.Timeout, deadline.Token).ConfigureAwait(false);
            }
            catch (Exception) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                Fail($"the agent did not answer a health check within {_health.Timeout.TotalSeconds:0.###} s ({e.Message})");
                return;
            }
        }
    }

    /// <summary>One GetOomEvent long-poll outstanding for the life of the VM.</summary>
    private async Task WatchOomAsync(ISandboxVm vm, Action<GuestOomKills> onOom, CancellationToken token)
    {
        while (true)
        {
            GuestOomKills kills;
            try
            {
                kills = await vm.Agent.WaitForOomAsync(token).ConfigureAwait(false);
            }
            catch (Exception) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (TtrpcException e) when (e.Code == StatusCode.Unimplemented)
            {
                Log.OomWatchUnsupported(_logger, e.Message);
                return;
            }
            catch (Exception e)
            {
                Log.OomWatchFailed(_logger, e);
                try
                {
                    await Task.Delay(OomRetryPause, _time, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            onOom(kills);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 130, Level = LogLevel.Information, Message = "{Subject}: ready, VMM pid {VmPid}")]
        public static partial void Ready(ILogger logger, string subject, int vmPid);

        [LoggerMessage(EventId = 131, Level = LogLevel.Error, Message = "{Subject} failed: {Reason}")]
        public static partial void Failed(ILogger logger, string subject, string reason);

        [LoggerMessage(EventId = 132, Level = LogLevel.Information, Message = "{Subject}: stopped")]
        public static partial void Stopped(ILogger logger, string subject);

        [LoggerMessage(EventId = 133, Level = LogLevel.Information, Message = "{Subject}: resized from {Before} to {After} (asked for {Target})")]
        public static partial void Resized(ILogger logger, string subject, string before, string after, string target);

        [LoggerMessage(EventId = 110, Level = LogLevel.Warning, Message = "Waiting for OOM events from the guest failed; asking again")]
        public static partial void OomWatchFailed(ILogger logger, Exception e);

        [LoggerMessage(EventId = 111, Level = LogLevel.Warning, Message = "The guest agent reports no OOM events ({Reason}); TaskOOM will not be published")]
        public static partial void OomWatchUnsupported(ILogger logger, string reason);
    }
}
