using System.Diagnostics;
using Cc.Agent.Logging;
using Cc.Agent.Native;
using Cc.Agent.Processes;
using Cc.Agent.Runtime;
using Microsoft.Extensions.Logging;

namespace Cc.Agent.Containers;

// The containers of the guest and their processes, driven through crun. Lifecycle here (start in
// ContainerManager.Start.cs); stdio, signals and waits in ContainerManager.Processes.cs; listing, stats, pause in
// ContainerManager.Inspect.cs.
//
// Every process the agent starts becomes its child (PID 1, or a subreaper on the host), so its
// exit status comes from the ChildReaper, exactly, including 128 + signal.
public sealed partial class ContainerManager
{
    private static readonly TimeSpan s_consoleTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_killTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_oomPollPeriod = TimeSpan.FromMilliseconds(200);

    private readonly AgentOptions _options;
    private readonly ILogger _logger;
    private readonly ChildReaper _reaper;
    private readonly CrunRunner _crun;
    private readonly OomWatcher _oom = new(s_oomPollPeriod);
    private readonly object _lock = new();
    // Guarded by _lock. A container is in here from the start of its creation (state Creating) so a
    // duplicate id is refused at once.
    private readonly Dictionary<string, Container> _containers = new(StringComparer.Ordinal);
    private int _consoleCounter;

    public ContainerManager(AgentOptions options, ILoggerFactory loggerFactory)
    {
        _options = options;
        _logger = loggerFactory.CreateLogger("Cc.Agent.Containers");
        _reaper = ChildReaper.Instance;
        _crun = new CrunRunner(options, _reaper);
        _crunStateRoot = ExecFifo.StateRoot(options);
        _startThroughRuntime = ExecFifo.RuntimeStartNeeded(options);
        Directory.CreateDirectory(options.ContainersDirectory);
    }

    // Creates the container and its init process (created, not started); returns the init's pid.
    public Task<int> CreateAsync(string id, ReadOnlyMemory<byte> specJson, string rootfsPath, bool terminal,
        bool stdin, CancellationToken cancellationToken) =>
        CreateAsync(id, specJson, rootfsPath, terminal, stdin, PodPlacement.Standalone, cancellationToken);

    // The same for a container of a CRI pod: its namespaces follow its place (PodNamespaces).
    public async Task<int> CreateAsync(string id, ReadOnlyMemory<byte> specJson, string rootfsPath, bool terminal,
        bool stdin, PodPlacement placement, CancellationToken cancellationToken)
    {
        Ids.Validate(id, "container id");
        var rootfs = ValidateRootfs(rootfsPath);
        var container = new Container(id, Path.Combine(_options.ContainersDirectory, id)) { Role = placement.Role };
        var (config, annotations) = OciSpec.RewriteConfig(specJson.Span, rootfs, terminal,
            ResolvePod(id, placement), container.Bundle);
        lock (_lock)
        {
            if (!_containers.TryAdd(id, container))
            {
                throw new AgentErrorException(AgentErrorKind.AlreadyExists, $"container {id} already exists");
            }
        }

        var created = false;
        try
        {
            Directory.CreateDirectory(container.Bundle);
            await File.WriteAllBytesAsync(Path.Combine(container.Bundle, "config.json"), config, cancellationToken)
                .ConfigureAwait(false);
            if (annotations is not null)
            {
                await File.WriteAllBytesAsync(Path.Combine(container.Bundle, AnnotationsFile.BundleName), annotations,
                    cancellationToken).ConfigureAwait(false);
            }
            var pidFile = Path.Combine(container.Bundle, "init.pid");
            List<string> command = ["create", "--bundle", container.Bundle, "--pid-file", pidFile];
            if (_options.NoPivotRoot)
            {
                command.Add("--no-pivot");
            }

            var init = await LaunchAsync(container, "", command, pidFile, terminal, stdin, cancellationToken).ConfigureAwait(false);
            created = true;
            container.PidNamespace = ReadPidNamespace(init.Pid);
            container.CgroupDirectory = ReadCgroupDirectory(init.Pid);
            if (container.CgroupDirectory is { } cgroup)
            {
                _oom.Watch(id, Path.Combine(cgroup, "memory.events"));
            }
            lock (container.Lock)
            {
                container.Init = init;
                container.MoveTo(ContainerState.Created);
            }

            Observe(container, init);
            AgentLog.ContainerCreated(_logger, id, init.Pid);
            return init.Pid;
        }
        catch
        {
            if (created)
            {
                await DeleteRuntimeStateAsync(container).ConfigureAwait(false);
            }

            _oom.Forget(id);
            lock (_lock)
            {
                _containers.Remove(id);
            }

            TryDeleteDirectory(container.Bundle);
            throw;
        }
    }

    // Starts an extra process in a running container at once; returns its pid.
    public async Task<int> ExecAsync(string id, string execId, ReadOnlyMemory<byte> processJson, bool terminal,
        bool stdin, CancellationToken cancellationToken)
    {
        var begun = Stopwatch.GetTimestamp();
        Ids.Validate(execId, "exec id");
        var container = Get(id);
        var process = OciSpec.RewriteProcess(processJson.Span, terminal);
        lock (container.Lock)
        {
            if (container.State is not (ContainerState.Running or ContainerState.Paused) || container.Init is not { HasExited: false })
            {
                throw AgentErrorException.Precondition($"container {id} init process is not running");
            }

            if (!container.TryReserveExec(execId))
            {
                throw new AgentErrorException(AgentErrorKind.AlreadyExists, $"exec {execId} already exists in container {id}");
            }
        }

        var processFile = Path.Combine(container.Bundle, $"exec-{execId}.json");
        var pidFile = Path.Combine(container.Bundle, $"exec-{execId}.pid");
        try
        {
            await File.WriteAllBytesAsync(processFile, process, cancellationToken).ConfigureAwait(false);
            // --detach: crun forks the process and exits; the process re-parents to us, so its real
            // exit status reaches the reaper (a non-detached crun would only relay it).
            var launched = await LaunchAsync(container, execId,
                ["exec", "--detach", "--pid-file", pidFile, "--process", processFile],
                pidFile, terminal, stdin, cancellationToken).ConfigureAwait(false);
            lock (container.Lock)
            {
                container.CompleteExec(execId, launched);
            }

            Observe(container, launched);
            AgentLog.ExecStarted(_logger, id, execId, launched.Pid);
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                AgentLog.ExecTimes(_logger, id, execId, (long)Stopwatch.GetElapsedTime(begun).TotalMilliseconds);
            }
            return launched.Pid;
        }
        catch
        {
            lock (container.Lock)
            {
                container.ReleaseExec(execId);
            }

            throw;
        }
        finally
        {
            TryDeleteFile(processFile);
            TryDeleteFile(pidFile);
        }
    }

    // Forgets an exited exec (the Task API's Delete of an exec): its record and its stdio buffers go, and its id may be
    // used again, as runc frees it. A running exec is refused: its exit must still be waited for and its output read.
    public void DeleteExec(string id, string execId)
    {
        Ids.Validate(execId, "exec id");
        var container = Get(id);
        ContainerProcess process;
        lock (container.Lock)
        {
            // A reserved id (null entry) is an ExecProcess still launching: not an exec to delete yet.
            process = container.FindExec(execId)
                ?? throw AgentErrorException.NotFound($"process {execId} does not exist in container {id}");
            if (!process.HasExited)
            {
                throw AgentErrorException.Precondition($"exec {execId} of container {id} is still running (pid {process.Pid})");
            }

            container.ReleaseExec(execId);
        }

        process.Io.Dispose();
        AgentLog.ExecDeleted(_logger, id, execId);
    }

    // Kills what is left (SIGKILL to every process), deletes the runtime state and the bundle.
    public async Task RemoveAsync(string id, CancellationToken cancellationToken)
    {
        var container = Get(id);
        ContainerProcess? init;
        lock (container.Lock)
        {
            // Fails early (Creating => Removed) while crun create still runs; the move itself happens at the end.
            ContainerStateMachine.Check(container.State, ContainerState.Removed, id);
            init = container.Init;
        }

        if (init is { HasExited: false })
        {
            try
            {
                await SignalAllAsync(container, LibC.SIGKILL, cancellationToken).ConfigureAwait(false);
            }
            catch (AgentErrorException e) when (e.Kind == AgentErrorKind.NotFound)
            {
                // the init exited between the check and the signal: nothing left to kill
            }

            try
            {
                await init.Exited.WaitAsync(s_killTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new AgentErrorException(AgentErrorKind.Internal,
                    $"container {id}: init pid {init.Pid} did not exit within {s_killTimeout.TotalSeconds} s of SIGKILL");
            }
        }

        await DeleteRuntimeStateAsync(container).ConfigureAwait(false);
        _oom.Forget(id);
        lock (_lock)
        {
            _containers.Remove(id);
        }

        lock (container.Lock)
        {
            container.MoveTo(ContainerState.Removed);
            init?.Io.Dispose();
            foreach (var exec in container.Execs)
            {
                exec.Io.Dispose();
            }
        }

        TryDeleteDirectory(container.Bundle);
        AgentLog.ContainerRemoved(_logger, id);
    }

    // Removes every container; returns how many there were.
    public async Task<int> RemoveAllAsync(CancellationToken cancellationToken)
    {
        string[] ids;
        lock (_lock)
        {
            ids = _containers.Where(c => c.Value.State != ContainerState.Creating).Select(c => c.Key).ToArray();
        }

        foreach (var id in ids)
        {
            await RemoveAsync(id, cancellationToken).ConfigureAwait(false);
        }

        return ids.Length;
    }

    private void Observe(Container container, ContainerProcess process)
    {
        _ = process.Exited.ContinueWith(t =>
        {
            var status = t.Result;
            if (process.ExecId.Length == 0)
            {
                lock (container.Lock)
                {
                    // Not after Removed: a removal waits for the init's exit, except when it gave up on it.
                    if (ContainerStateMachine.Allows(container.State, ContainerState.Stopped))
                    {
                        container.MoveTo(ContainerState.Stopped);
                    }
                }

                KillRestOfContainer(container);
            }

            AgentLog.ProcessExited(_logger, container.Id, process.ExecId.Length == 0 ? "init" : process.ExecId, process.Pid, status.Code);
        }, CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
    }

    private async Task DeleteRuntimeStateAsync(Container container)
    {
        try
        {
            await _crun.RunAsync(container.Bundle, ["delete", "--force", container.Id], null, CancellationToken.None)
                .ConfigureAwait(false);
        }
        catch (AgentErrorException e)
        {
            AgentLog.ContainerWarning(_logger, container.Id, e.Message);
        }
    }

    private Container Get(string id)
    {
        lock (_lock)
        {
            return _containers.TryGetValue(id, out var container)
                ? container
                : throw AgentErrorException.NotFound($"container {id} not found");
        }
    }

    private string ValidateRootfs(string path)
    {
        if (!Path.IsPathFullyQualified(path))
        {
            throw AgentErrorException.Invalid($"rootfs path \"{path}\" is not absolute");
        }

        var full = Path.GetFullPath(path);
        var root = Path.GetFullPath(_options.RootfsDirectory).TrimEnd('/') + "/";
        if (!full.StartsWith(root, StringComparison.Ordinal))
        {
            throw AgentErrorException.Invalid($"rootfs path \"{path}\" is not under {root}");
        }

        if (!Directory.Exists(full))
        {
            throw AgentErrorException.Invalid($"rootfs path \"{path}\" does not exist");
        }

        return full;
    }

    private static string Describe(ContainerState state) => state.ToString().ToLowerInvariant();

    private static string? ReadPidNamespace(int pid)
    {
        try
        {
            return new FileInfo($"/proc/{pid}/ns/pid").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static void TryDeleteFile(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // best effort: it lives in the bundle, which removal deletes
        }
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
            // best effort: a tmpfs directory in the guest
        }
        catch (UnauthorizedAccessException)
        {
            // idem
        }
    }
}
