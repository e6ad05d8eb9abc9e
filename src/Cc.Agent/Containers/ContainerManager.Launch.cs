using System.Diagnostics;
using Cc.Agent.Logging;
using Cc.Agent.Native;
using Cc.Agent.Processes;
using Microsoft.Extensions.Logging;

namespace Cc.Agent.Containers;

// Starting a process through the runtime (crun create / crun exec) with its stdio: pipes handed to
// crun as its own fds 0..2, or a pty whose master crun sends back over a console socket.
public sealed partial class ContainerManager
{
    private async Task<ContainerProcess> LaunchAsync(Container container, string execId, IReadOnlyList<string> command,
        string pidFile, bool terminal, bool stdin, CancellationToken cancellationToken)
    {
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            AgentLog.RuntimeLaunch(_logger, container.Id, execId.Length == 0 ? "init" : execId, string.Join(' ', command));
        }
        // Taken before the runtime runs: the process we are about to create cannot have exited earlier.
        var mark = _reaper.Mark();
        var launchBegun = Stopwatch.GetTimestamp();
        var runtimeTime = TimeSpan.Zero;
        ProcessIo io;
        if (terminal)
        {
            io = await LaunchWithTerminalAsync(container, command, stdin, cancellationToken).ConfigureAwait(false);
            runtimeTime = Stopwatch.GetElapsedTime(launchBegun);
        }
        else
        {
            io = ProcessIo.CreatePipes(stdin);
            try
            {
                var runtimeBegun = Stopwatch.GetTimestamp();
                await _crun.RunAsync(container.Bundle, [.. command, container.Id], io.ChildFds, cancellationToken)
                    .ConfigureAwait(false);
                runtimeTime = Stopwatch.GetElapsedTime(runtimeBegun);
            }
            catch
            {
                io.Dispose();
                throw;
            }

            io.ReleaseChildEnds();
        }

        int pid;
        try
        {
            pid = int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException)
        {
            io.Dispose();
            throw new AgentErrorException(AgentErrorKind.Internal, $"crun left no usable pid file {pidFile}: {e.Message}", e);
        }

        if (_logger.IsEnabled(LogLevel.Debug))
        {
            AgentLog.LaunchTimes(_logger, container.Id, execId.Length == 0 ? "init" : execId,
                (long)runtimeTime.TotalMilliseconds, (long)Stopwatch.GetElapsedTime(launchBegun).TotalMilliseconds);
        }

        return new ContainerProcess(execId, pid, io, _reaper.Claim(pid, mark));
    }

    private async Task<ProcessIo> LaunchWithTerminalAsync(Container container, IReadOnlyList<string> command, bool stdin,
        CancellationToken cancellationToken)
    {
        // Short path: sun_path holds 107 bytes, and container + exec ids can be 128 each.
        var socketPath = Path.Combine(_options.ContainersDirectory,
            $".console-{Interlocked.Increment(ref _consoleCounter)}.sock");
        using var console = new ConsoleSocket(socketPath);
        using var receiveCancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var master = console.ReceiveMasterAsync(receiveCancel.Token);
        var runtimeStdio = ProcessIo.RuntimeNullStdio();
        try
        {
            await _crun.RunAsync(container.Bundle, [.. command, "--console-socket", socketPath, container.Id],
                runtimeStdio.Select(Fd.Raw).ToArray(), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await receiveCancel.CancelAsync().ConfigureAwait(false);
            try
            {
                (await master.ConfigureAwait(false)).Dispose();
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
                // the runtime failed before sending a terminal
            }

            throw;
        }
        finally
        {
            foreach (var handle in runtimeStdio)
            {
                handle.Dispose();
            }
        }

        try
        {
            var masterFd = await master.WaitAsync(s_consoleTimeout, cancellationToken).ConfigureAwait(false);
            return ProcessIo.FromTerminal(masterFd, stdin);
        }
        catch (TimeoutException)
        {
            throw new AgentErrorException(AgentErrorKind.Internal, "crun did not send the terminal on the console socket");
        }
    }
}
