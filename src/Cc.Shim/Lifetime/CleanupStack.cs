using Microsoft.Extensions.Logging;

namespace Cc.Shim.Lifetime;

/// <summary>
/// Registered shutdown (containerd's <c>pkg/shutdown</c>): whoever acquires a resource registers its release here at
/// that moment, and <see cref="RunAsync"/> releases everything in reverse order of registration, so a resource is
/// always released before the ones it was built on (a tap before the namespace record, QEMU before its taps' redirects,
/// the sandbox before its run directory).
/// <para>Invariants: every step runs at most once, either early (its <see cref="CleanupRegistration"/> disposed when
/// the resource goes before the owner does, e.g. a deleted container's rootfs) or in the stack's run. Each step is
/// bounded: its token fires at its timeout, and a step that ignores the token is abandoned there (it runs on the thread
/// pool, so even a synchronous step that hangs does not hold up the rest). A step that throws or times out is logged
/// and the rest still run. <see cref="RunAsync"/> is idempotent: every caller awaits the same run.</para>
/// <para>A step registered after the run began (a resource acquired while its owner shuts down, e.g. a Create racing
/// SIGTERM) runs at once, bounded like the others: nothing acquired after shutdown began may outlive it. Its
/// registration's <see cref="CleanupRegistration.DisposeAsync"/> awaits that run.</para>
/// <see cref="_lock"/> guards <see cref="_steps"/> and <see cref="_run"/>.
/// </summary>
public sealed partial class CleanupStack
{
    /// <summary>A step's bound when its registration names none.</summary>
    public static readonly TimeSpan DefaultStepTimeout = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private readonly List<CleanupRegistration> _steps = [];
    private readonly string _owner;
    private readonly TimeSpan _defaultTimeout;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private Task? _run;

    /// <param name="owner">Who the steps belong to, for the log ("sandbox pod1", "shim daemon").</param>
    public CleanupStack(string owner, ILogger logger, TimeSpan? defaultStepTimeout = null, TimeProvider? time = null)
    {
        _owner = owner;
        _logger = logger;
        _defaultTimeout = defaultStepTimeout ?? DefaultStepTimeout;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>True once <see cref="RunAsync"/> was called: new registrations then run at once.</summary>
    public bool HasRun
    {
        get
        {
            lock (_lock)
            {
                return _run is not null;
            }
        }
    }

    /// <summary>Steps registered and not yet run.</summary>
    public int Pending
    {
        get
        {
            lock (_lock)
            {
                return _steps.Count;
            }
        }
    }

    /// <summary>
    /// Registers the release of a resource just acquired. <paramref name="step"/> gets a token that fires at
    /// <paramref name="timeout"/> (default: the stack's). Dispose the result to release the resource early.
    /// </summary>
    public CleanupRegistration Register(string name, Func<CancellationToken, Task> step, TimeSpan? timeout = null)
    {
        var registration = new CleanupRegistration(this, name, step, timeout ?? _defaultTimeout);
        bool late;
        lock (_lock)
        {
            late = _run is not null;
            if (!late)
            {
                _steps.Add(registration);
            }
        }
        if (late)
        {
            Log.RegisteredLate(_logger, _owner, name);
            _ = registration.RunOnceAsync();
        }
        return registration;
    }

    /// <summary>A synchronous release; still bounded (it runs on the thread pool).</summary>
    public CleanupRegistration Register(string name, Action step, TimeSpan? timeout = null) =>
        Register(name, _ =>
        {
            step();
            return Task.CompletedTask;
        }, timeout);

    /// <summary>Runs every registered step, last registered first; never throws. Idempotent.</summary>
    public Task RunAsync()
    {
        lock (_lock)
        {
            return _run ??= Task.Run(RunCoreAsync);
        }
    }

    private async Task RunCoreAsync()
    {
        while (true)
        {
            CleanupRegistration step;
            lock (_lock)
            {
                if (_steps.Count == 0)
                {
                    return;
                }
                step = _steps[^1];
                _steps.RemoveAt(_steps.Count - 1);
            }
            await step.RunOnceAsync().ConfigureAwait(false);
        }
    }

    internal void Forget(CleanupRegistration registration)
    {
        lock (_lock)
        {
            _steps.Remove(registration);
        }
    }

    /// <summary>Runs one step with its bound; logs and swallows what goes wrong.</summary>
    internal async Task RunStepAsync(string name, Func<CancellationToken, Task> step, TimeSpan timeout)
    {
        using var bound = new CancellationTokenSource(timeout, _time);
        try
        {
            await Task.Run(() => step(bound.Token), CancellationToken.None).WaitAsync(timeout, _time, CancellationToken.None)
                .ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Log.StepTimedOut(_logger, _owner, name, timeout.TotalSeconds);
        }
        catch (OperationCanceledException) when (bound.IsCancellationRequested)
        {
            Log.StepTimedOut(_logger, _owner, name, timeout.TotalSeconds);
        }
        catch (Exception e)
        {
            Log.StepFailed(_logger, e, _owner, name);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 20, Level = LogLevel.Warning, Message = "{Owner}: clean-up step '{Step}' failed")]
        public static partial void StepFailed(ILogger logger, Exception e, string owner, string step);

        [LoggerMessage(EventId = 21, Level = LogLevel.Warning,
            Message = "{Owner}: clean-up step '{Step}' did not finish within {Seconds} s; abandoned, the next steps run")]
        public static partial void StepTimedOut(ILogger logger, string owner, string step, double seconds);

        [LoggerMessage(EventId = 22, Level = LogLevel.Information,
            Message = "{Owner}: '{Step}' registered after clean-up began; released at once")]
        public static partial void RegisteredLate(ILogger logger, string owner, string step);
    }
}

/// <summary>
/// One registered release. <see cref="DisposeAsync"/> releases the resource now (once; later calls await the same run)
/// and takes it off the stack; <see cref="Forget"/> takes it off without running it (the resource was handed to
/// someone who releases it otherwise).
/// </summary>
public sealed class CleanupRegistration : IAsyncDisposable
{
    private readonly CleanupStack _stack;
    private readonly Func<CancellationToken, Task> _step;
    private readonly TimeSpan _timeout;
    private readonly Lock _lock = new();
    private Task? _run; // guarded by _lock

    internal CleanupRegistration(CleanupStack stack, string name, Func<CancellationToken, Task> step, TimeSpan timeout)
    {
        _stack = stack;
        Name = name;
        _step = step;
        _timeout = timeout;
    }

    public string Name { get; }

    /// <summary>True once the step ran (or began to), early or in the stack's run.</summary>
    public bool HasRun
    {
        get
        {
            lock (_lock)
            {
                return _run is not null;
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _stack.Forget(this);
        return new ValueTask(RunOnceAsync());
    }

    /// <summary>Takes the step off the stack without running it.</summary>
    public void Forget()
    {
        lock (_lock)
        {
            _run ??= Task.CompletedTask;
        }
        _stack.Forget(this);
    }

    internal Task RunOnceAsync()
    {
        lock (_lock)
        {
            return _run ??= _stack.RunStepAsync(Name, _step, _timeout);
        }
    }
}
