using Cc.Shim.Events;
using V1 = Cc.Agent.Protocol.V1;

namespace Cc.Shim.Sandbox;

public sealed partial class PodSandbox
{
    /// <summary>
    /// Start of init or an exec: Created → Running in the guest, then TaskStart / TaskExecStarted, then the exit
    /// watch is armed — so no exit can be published before the start.
    /// </summary>
    public async Task<uint> StartAsync(ProcessKey key, CancellationToken cancellationToken)
    {
        var container = FindContainer(key.ContainerId);
        await container.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ShimProcess process;
            lock (_lock)
            {
                process = FindProcess(container, key);
                ProcessStateMachine.Check(process.State, ProcessState.Running, key.ToString());
                if (!key.IsInit && container.Init.State is not (ProcessState.Running or ProcessState.Paused))
                {
                    throw new PreconditionFailedException($"container {key.ContainerId}: init process is not running");
                }
            }
            var life = Volatile.Read(ref _vm);
            var vm = RequireVm();
            try
            {
                await vm.Agent.StartAsync(key, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                // The process never ran: it gets no start and therefore no exit event; Delete finds it Stopped.
                lock (_lock)
                {
                    process.RecordExit(new ExitStatus(255, _time.GetUtcNow()));
                }
                throw;
            }
            lock (_lock)
            {
                process.MoveTo(ProcessState.Running);
                _events.Publish(key.IsInit
                    ? new TaskStarted(_time.GetUtcNow(), key.ContainerId, process.Pid)
                    : new ExecStarted(_time.GetUtcNow(), key, process.Pid));
            }
            // The watch lives as long as this VM is Ready; if the VM died meanwhile, its failure ends the process.
            life!.Watch(token => WatchExitAsync(container, process, life, vm, token));
            Log.ProcessStarted(_logger, key.ToString());
            if (key.IsInit)
            {
                await RunPoststartAsync(container, vm.Pid).ConfigureAwait(false);
            }
            return process.Pid;
        }
        finally
        {
            container.Gate.Release();
        }
    }

    /// <summary>Registers an exec (not started) and publishes TaskExecAdded.</summary>
    public async Task ExecAsync(ExecRequest request, CancellationToken cancellationToken)
    {
        var key = new ProcessKey(request.ContainerId, request.ExecId);
        if (key.IsInit)
        {
            throw new InvalidRequestException("exec id must not be empty");
        }
        var container = FindContainer(request.ContainerId);
        await container.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_lock)
            {
                if (container.Execs.ContainsKey(request.ExecId))
                {
                    throw new AlreadyExistsException($"id {request.ExecId}: already exists");
                }
                if (container.Init.State is not (ProcessState.Running or ProcessState.Paused))
                {
                    throw new PreconditionFailedException($"container {request.ContainerId}: init process is not running");
                }
            }
            Io.ProcessIo.CheckClientFifosExist(request.Stdio);
            var vm = RequireVm();
            await vm.Agent.ExecAsync(request, cancellationToken).ConfigureAwait(false);
            var process = new ShimProcess(key, container.Bundle, request.Stdio, (uint)vm.Pid);
            try
            {
                await OpenStdioAsync(process, vm, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                // The guest holds the exec now, but no client will start or delete one that was never added.
                vm.Agent.ForgetExec(key);
                throw;
            }
            lock (_lock)
            {
                container.Execs.Add(request.ExecId, process);
                _events.Publish(new ExecAdded(_time.GetUtcNow(), key));
            }
        }
        finally
        {
            container.Gate.Release();
        }
    }

    /// <summary>
    /// Kill: a process that has exited (or was deleted) is NotFound — CRI ignores exactly that code on stop.
    /// </summary>
    public async Task KillAsync(ProcessKey key, int signal, bool all, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var process = FindProcess(FindContainer(key.ContainerId), key);
            if (process.State is ProcessState.Stopped or ProcessState.Deleted)
            {
                throw new NotFoundException($"process {key.DisplayId}: process already finished: not found");
            }
        }
        await RequireVm().Agent.SignalAsync(key, signal, all && key.IsInit, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Wait: answers when the exit is recorded, at once if it already is; many waiters.</summary>
    public async Task<ExitStatus> WaitAsync(ProcessKey key, CancellationToken cancellationToken)
    {
        Task<ExitStatus> exited;
        lock (_lock)
        {
            exited = FindProcess(FindContainer(key.ContainerId), key).Exited;
        }
        return await exited.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Delete: the process must be Created or Stopped (anything else is the invalid-transition error). For init the
    /// container leaves the guest and the shim, TaskDelete is published, and the VM stops when no container remains,
    /// else shrinks, after this answers, to what the remaining containers' limits ask for (best-effort).
    /// Exec deletes publish nothing, as the runc shim does.
    /// </summary>
    public async Task<(uint Pid, ExitStatus Exit)> DeleteAsync(ProcessKey key, CancellationToken cancellationToken)
    {
        var container = FindContainer(key.ContainerId);
        await container.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ShimProcess process;
            lock (_lock)
            {
                process = FindProcess(container, key);
                ProcessStateMachine.Check(process.State, ProcessState.Deleted, key.ToString());
            }
            if (!key.IsInit)
            {
                bool ran;
                lock (_lock)
                {
                    ran = process.State == ProcessState.Stopped;
                    process.MoveTo(ProcessState.Deleted);
                    container.Execs.Remove(key.ExecId);
                }
                await CloseStdioAsync(process).ConfigureAwait(false);
                // An exec deleted before its start is still registered in the guest; a started one is known there
                // until now (its start signal): either is taken back. One that ran is deleted in the agent too, so
                // its record goes and its id can run a new exec, as with runc.
                if (Volatile.Read(ref _vm) is { } execLife && execLife.TryGetReady(out var execVm))
                {
                    execVm.Agent.ForgetExec(key);
                    if (ran)
                    {
                        await BestEffortAsync(() => DeleteExecInGuestAsync(execVm.Agent, key, cancellationToken), "delete exec")
                            .ConfigureAwait(false);
                    }
                }
                return (process.Pid, process.Exit ?? new ExitStatus(0, _time.GetUtcNow()));
            }

            // A pod that ends with this container loses its VM in a moment: the guest's own removal of the container
            // (a crun delete, ~0.3 s of TCG CPU) would be work nobody sees. Decided first, re-checked below where the
            // pod's end is decided for good: a Create that came in between keeps the VM, and then the guest is told.
            bool ending;
            lock (_lock)
            {
                ending = _containers.Count == 1 && _creating.Count == 0;
            }
            var life = Volatile.Read(ref _vm);
            if (!ending)
            {
                await RemoveFromGuestAsync(life, key.ContainerId, cancellationToken).ConfigureAwait(false);
            }
            foreach (var p in container.Execs.Values.Append(process))
            {
                await CloseStdioAsync(p).ConfigureAwait(false);
            }
            if (container.RootfsRelease is { } rootfs)
            {
                // Lazy unmounts (HostRootfs): a guest still holding files of the share does not block them.
                await rootfs.DisposeAsync().ConfigureAwait(false);
            }

            var exit = process.Exit ?? new ExitStatus(0, _time.GetUtcNow());
            bool last;
            Task? vmStop = null;
            lock (_lock)
            {
                process.MoveTo(ProcessState.Deleted);
                _containers.Remove(key.ContainerId);
                _events.Publish(new TaskDeleted(_time.GetUtcNow(), key, process.Pid, exit));
                last = _containers.Count == 0 && _creating.Count == 0;
                if (last && life is not null)
                {
                    // Begun under the lock that decided the pod's end: the VM leaves Ready now, so a Create from here
                    // on waits for this stop and boots a VM of its own instead of being handed one that is going.
                    vmStop = life.StopAsync(CancellationToken.None);
                }
            }
            Log.ContainerDeleted(_logger, key.ContainerId);
            if (ending && !last)
            {
                await RemoveFromGuestAsync(life, key.ContainerId, cancellationToken).ConfigureAwait(false);
            }
            await RunPoststopAsync(container).ConfigureAwait(false);
            if (vmStop is not null)
            {
                await EndVmOfDeletedPodAsync(life!, vmStop).ConfigureAwait(false);
            }
            else if (last)
            {
                await StopVmAsync(CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                ShrinkForRemaining(key.ContainerId, ShrinkCause.Deleted);
            }
            return (process.Pid, exit);
        }
        finally
        {
            container.Gate.Release();
        }
    }

    /// <summary>Removes a deleted container from the guest, if its VM is still Ready (a dead one took it along).</summary>
    private Task RemoveFromGuestAsync(SandboxVm? life, string containerId, CancellationToken cancellationToken) =>
        life is not null && life.TryGetReady(out var vm)
            ? BestEffortAsync(() => vm.Agent.RemoveContainerAsync(containerId, cancellationToken), "remove container")
            : Task.CompletedTask;

    /// <summary>
    /// The last Delete of a pod answers once the VMM is gone, not once the whole VM is stopped: the guest has nothing to
    /// flush (its rootfs and volumes are the host's, over 9p with writes going through), and what remains of the stop
    /// (the agent connection, QEMU's monitor and run directory, the console forwarder, the taps) is host clean-up that
    /// finishes after the answer and before the daemon exits: the VM's registered release stays on the pod's clean-up
    /// stack until the stop has run, so the daemon's exit awaits the same stop. A crash after the answer finds no VMM
    /// left to orphan; its files are what `shim delete` removes after a dead daemon (docs/shim.md).
    /// </summary>
    private async Task EndVmOfDeletedPodAsync(SandboxVm life, Task vmStop)
    {
        await Task.WhenAny(life.VmmExited, vmStop).ConfigureAwait(false);
        Log.VmmEnded(_logger, _options.SandboxId);
        CallerDeadline.Detach(); // the rest of the stop outlives this Delete
        _ = ForgetStoppedVmAsync(life, vmStop);
    }

    /// <summary>
    /// Once <paramref name="life"/>'s stop has run: takes its release off the stack (it runs the finished stop: a no-op)
    /// and forgets the VM, unless a Create that came meanwhile already did (it awaits a stopping VM before it boots).
    /// </summary>
    private async Task ForgetStoppedVmAsync(SandboxVm life, Task vmStop)
    {
        try
        {
            await vmStop.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log.CleanupFailed(_logger, e, "stop VM", _options.SandboxId);
        }
        await _vmGate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (!ReferenceEquals(Volatile.Read(ref _vm), life))
            {
                return;
            }
            Volatile.Write(ref _vm, null);
            if (Interlocked.Exchange(ref _vmRelease, null) is { } release)
            {
                await release.DisposeAsync().ConfigureAwait(false);
            }
            Log.VmStopped(_logger, _options.SandboxId);
        }
        finally
        {
            _vmGate.Release();
        }
    }

    /// <summary>An exec whose start failed never reached the agent's records: its NotFound is nothing to clean.</summary>
    private static async Task DeleteExecInGuestAsync(AgentGuest agent, ProcessKey key, CancellationToken cancellationToken)
    {
        try
        {
            await agent.CallAsync(AgentCallKind.Delete, (client, options) => client.DeleteProcessAsync(
                new V1.DeleteProcessRequest { ContainerId = key.ContainerId, ExecId = key.ExecId }, options), cancellationToken)
                .ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
        }
    }

    public Task CloseStdinAsync(ProcessKey key, CancellationToken cancellationToken)
    {
        ShimProcess process;
        lock (_lock)
        {
            process = FindProcess(FindContainer(key.ContainerId), key);
        }
        return process.Io is { } io ? io.CloseStdinAsync(cancellationToken) : Task.CompletedTask;
    }

    public Task ResizePtyAsync(ProcessKey key, uint columns, uint rows, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var process = FindProcess(FindContainer(key.ContainerId), key);
            if (!process.Stdio.Terminal)
            {
                throw new PreconditionFailedException($"process {key.DisplayId} has no terminal");
            }
        }
        return RequireVm().Agent.ResizePtyAsync(key, columns, rows, cancellationToken);
    }

    /// <summary>Pause/Resume of the whole container: Running ⇄ Paused, with TaskPaused / TaskResumed.</summary>
    public async Task SetPausedAsync(string containerId, bool paused, CancellationToken cancellationToken)
    {
        var container = FindContainer(containerId);
        var to = paused ? ProcessState.Paused : ProcessState.Running;
        await container.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_lock)
            {
                ProcessStateMachine.Check(container.Init.State, to, containerId);
            }
            var agent = RequireVm().Agent;
            await (paused ? agent.PauseAsync(containerId, cancellationToken) : agent.ResumeAsync(containerId, cancellationToken))
                .ConfigureAwait(false);
            lock (_lock)
            {
                // The process may have exited meanwhile; then the move is invalid and the caller learns it.
                container.Init.MoveTo(to);
                _events.Publish(paused
                    ? new TaskPaused(_time.GetUtcNow(), containerId)
                    : new TaskResumed(_time.GetUtcNow(), containerId));
            }
        }
        finally
        {
            container.Gate.Release();
        }
    }

    /// <summary>
    /// Watches one started process: guest exit, then host output drained, then (for init) every exec's exit first,
    /// then the exit is recorded and TaskExit published. <paramref name="vmReady"/> fires when the VM leaves Ready:
    /// then the VM's failure path (or the sandbox's disposal) ends the process, not this watch. A wait that fails while
    /// the VM stays Ready counts as exit 255.
    /// </summary>
    private async Task WatchExitAsync(ShimContainer container, ShimProcess process, SandboxVm life, ISandboxVm vm,
        CancellationToken vmReady)
    {
        using var scope = CancellationTokenSource.CreateLinkedTokenSource(vmReady, _disposed.Token);
        var token = scope.Token;
        GuestExit exit;
        try
        {
            exit = await vm.Agent.WaitAsync(process.Key, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e)
        {
            // A lost agent session is most often the VM's death, seen here a moment before the VM's own watch sees it.
            try
            {
                await life.Ended.WaitAsync(life.Health.ExitWatchGrace, _time, token).ConfigureAwait(false);
                return;
            }
            catch (TimeoutException)
            {
                Log.WaitFailed(_logger, e, process.Key.ToString());
                exit = new GuestExit(new ExitStatus(255, _time.GetUtcNow()), OomKills: 0);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        if (process.Io is { } io)
        {
            try
            {
                await io.OutputDrained.WaitAsync(_options.OutputDrainTimeout, token).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                Log.OutputNotDrained(_logger, process.Key.ToString());
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        if (process.Key.IsInit)
        {
            await AwaitExecExitsAsync(container, vm).ConfigureAwait(false);
        }

        bool oomPublished;
        lock (_lock)
        {
            if (process.State is not (ProcessState.Running or ProcessState.Paused))
            {
                return;
            }
            // A kill the OOM watch has not delivered yet (its answer overtaken by this one) goes out before the exit.
            oomPublished = TryPublishOomLocked(container, exit.OomKills);
            process.RecordExit(exit.Status);
            _events.Publish(new TaskExited(_time.GetUtcNow(), process.Key, process.Pid, exit.Status));
        }
        if (oomPublished)
        {
            Log.OomKill(_logger, container.Id);
        }
        Log.ProcessExited(_logger, process.Key.ToString(), exit.Status.Code);
    }

    /// <summary>
    /// The init's exit is published after every exec's (protocol.md §3.4): the guest kills the rest of a container whose
    /// init died; we wait for those exits, nudging with SIGKILL, within a grace period.
    /// </summary>
    private async Task AwaitExecExitsAsync(ShimContainer container, ISandboxVm vm)
    {
        List<ShimProcess> live;
        lock (_lock)
        {
            live = container.Execs.Values.Where(p => p.State is ProcessState.Running or ProcessState.Paused).ToList();
        }
        if (live.Count == 0)
        {
            return;
        }
        foreach (var exec in live)
        {
            await BestEffortAsync(() => vm.Agent.SignalAsync(exec.Key, 9, false, CancellationToken.None), "kill exec")
                .ConfigureAwait(false);
        }
        try
        {
            await Task.WhenAll(live.Select(p => p.Exited)).WaitAsync(_options.ExecExitGrace, _disposed.Token)
                .ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            // Publish the init's exit anyway; a stuck exec must not hide the container's end from containerd.
        }
    }

    private ShimContainer FindContainer(string id)
    {
        lock (_lock)
        {
            return _containers.TryGetValue(id, out var container)
                ? container
                : throw new NotFoundException($"container {id}: container not created: not found");
        }
    }

    /// <summary>
    /// The process named by <paramref name="key"/>. A deleted one is NotFound, as an unknown one is: a call that waited on
    /// the container's gate behind the Delete that removed it (a second Delete, a Start) must get the code a later call
    /// gets (runc shim: "container not created: not found"), not the invalid-transition error of a state it cannot see.
    /// </summary>
    private static ShimProcess FindProcess(ShimContainer container, ProcessKey key)
    {
        if (key.IsInit)
        {
            return container.Init.State != ProcessState.Deleted
                ? container.Init
                : throw new NotFoundException($"container {key.ContainerId}: container not created: not found");
        }
        return container.Execs.TryGetValue(key.ExecId, out var process) && process.State != ProcessState.Deleted
            ? process
            : throw new NotFoundException($"process {key.ExecId}: process does not exist {key.ExecId}: not found");
    }
}
