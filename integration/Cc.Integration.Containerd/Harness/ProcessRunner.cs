namespace Cc.Integration.Containerd.Harness;

/// <summary>Runs child processes with a bound on every wait.</summary>
internal static class ProcessRunner
{
    /// <summary>Runs to completion; kills the process tree and throws <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
    public static async Task<ProcessResult> RunAsync(
        string file,
        IEnumerable<string> args,
        TimeSpan timeout,
        CancellationToken cancellationToken,
        Func<Stream, CancellationToken, Task>? stdoutConsumer = null)
    {
        await using var process = new RunningProcess(file, args, stdoutConsumer);
        return await process.WaitAsync(timeout, cancellationToken);
    }
}
