using Cc.Hypervisor.Processes;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Cc.Shim.Sandbox;

/// <summary>A hook exited non-zero, overran its timeout or could not start; the message carries its stderr.</summary>
public sealed class HookFailedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Runs OCI hooks on the host the way runc does (libcontainer/configs <c>Command.Run</c>): the hook's path with its
/// <c>args</c> as argv (argv[0] included), its <c>env</c> as the whole environment, the container's state JSON on stdin,
/// in the shim daemon's namespaces. A hook with a <c>timeout</c> is killed (its process group) when it overruns; one
/// without is bounded only by the request that runs it. Hooks of a phase run in order and the first failure stops the
/// phase.
/// </summary>
public static partial class HookRunner
{
    /// <summary>How much of a failed hook's stderr (its end) goes into the error.</summary>
    private const int StderrTailChars = 2048;

    /// <exception cref="HookFailedException">A hook failed; the later ones of the phase were not run.</exception>
    public static async Task RunPhaseAsync(string phase, IReadOnlyList<OciHook> hooks, byte[] state, ILogger logger,
        CancellationToken cancellationToken)
    {
        for (var i = 0; i < hooks.Count; i++)
        {
            await RunAsync($"{phase} hook #{i} ({hooks[i].Path})", hooks[i], state, cancellationToken).ConfigureAwait(false);
            Log.HookRan(logger, phase, i, hooks[i].Path);
        }
    }

    /// <summary>
    /// Runs every hook of a phase whose failure must not stop the container's lifecycle (<c>poststart</c>,
    /// <c>poststop</c>: runtime-spec says the runtime logs a warning and goes on).
    /// </summary>
    public static async Task RunPhaseWarningOnlyAsync(string phase, IReadOnlyList<OciHook> hooks, byte[] state, ILogger logger,
        CancellationToken cancellationToken)
    {
        for (var i = 0; i < hooks.Count; i++)
        {
            try
            {
                await RunAsync($"{phase} hook #{i} ({hooks[i].Path})", hooks[i], state, cancellationToken).ConfigureAwait(false);
                Log.HookRan(logger, phase, i, hooks[i].Path);
            }
            catch (HookFailedException e)
            {
                Log.HookFailedIgnored(logger, phase, i, e.Message);
            }
        }
    }

    /// <exception cref="HookFailedException">The hook could not start, exited non-zero, or overran its timeout.</exception>
    public static async Task RunAsync(string what, OciHook hook, byte[] state, CancellationToken cancellationToken)
    {
        var (inRead, inWrite) = AnonymousPipe.Create();
        var (outRead, outWrite) = AnonymousPipe.Create();
        var (errRead, errWrite) = AnonymousPipe.Create();
        ChildProcess process;
        try
        {
            process = ChildSpawner.Spawn(new SpawnOptions
            {
                Executable = hook.Path,
                ArgumentZero = hook.Args.Count > 0 ? hook.Args[0] : null,
                Arguments = hook.Args.Count > 1 ? [.. hook.Args.Skip(1)] : [],
                Environment = Environment(hook.Env),
                Fds = [new InheritedFd(0, inRead), new InheritedFd(1, outWrite), new InheritedFd(2, errWrite)],
            });
        }
        catch (Exception e) when (e is ChildSpawnException or ArgumentException)
        {
            inWrite.Dispose();
            outRead.Dispose();
            errRead.Dispose();
            throw new HookFailedException($"{what} could not start: {e.Message}", e);
        }
        finally
        {
            // The child has its copies; ours must go, or the reads below never see end-of-file.
            inRead.Dispose();
            outWrite.Dispose();
            errWrite.Dispose();
        }
        using (process)
        {
            var stdout = DrainAsync(outRead);
            var stderr = DrainAsync(errRead);
            var fed = FeedAsync(inWrite, state);
            var bound = hook.Timeout is { } seconds ? TimeSpan.FromSeconds(seconds) : Timeout.InfiniteTimeSpan;
            int code;
            try
            {
                code = await process.Exited.WaitAsync(bound, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                process.SignalGroup(9);
                await process.Exited.ConfigureAwait(false);
                throw new HookFailedException(e is TimeoutException
                    ? $"{what} did not finish within its timeout of {hook.Timeout} s"
                    : $"{what} was cancelled with its request", e);
            }
            await fed.ConfigureAwait(false);
            await stdout.ConfigureAwait(false);
            var errors = await stderr.ConfigureAwait(false);
            if (code != 0)
            {
                var tail = errors.Length > StderrTailChars ? errors[^StderrTailChars..] : errors;
                throw new HookFailedException($"{what} exited with status {code}: {tail.Trim()}");
            }
        }
    }

    private static Dictionary<string, string> Environment(IReadOnlyList<string> env)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in env)
        {
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                result[entry[..equals]] = entry[(equals + 1)..];
            }
        }
        return result;
    }

    // A hook that never reads its stdin must not block us: a write that fails (EPIPE once it exited) is ignored, as
    // runc ignores it.
    private static async Task FeedAsync(SafeFileHandle write, byte[] state)
    {
        await using var stream = new FileStream(write, FileAccess.Write, bufferSize: 0);
        try
        {
            await stream.WriteAsync(state).ConfigureAwait(false);
        }
        catch (IOException)
        {
        }
    }

    private static async Task<string> DrainAsync(SafeFileHandle read)
    {
        using var reader = new StreamReader(new FileStream(read, FileAccess.Read, bufferSize: 0));
        return await reader.ReadToEndAsync().ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 970, Level = LogLevel.Information, Message = "OCI {Phase} hook #{Index} ({Path}) ran on the host")]
        public static partial void HookRan(ILogger logger, string phase, int index, string path);

        [LoggerMessage(EventId = 971, Level = LogLevel.Warning, Message = "OCI {Phase} hook #{Index} failed, ignored as runc does: {Reason}")]
        public static partial void HookFailedIgnored(ILogger logger, string phase, int index, string reason);
    }
}
