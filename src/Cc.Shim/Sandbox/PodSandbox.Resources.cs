using Cc.Shim.Events;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Sandbox;

public sealed partial class PodSandbox
{
    /// <summary>
    /// Serialises the pod's resizes from the target's computation to the last shrink (Update, and the shrink after a
    /// Delete). Taken after a container's Gate, never before one.
    /// </summary>
    private readonly SemaphoreSlim _podResizeGate = new(1, 1);

    /// <summary>
    /// Update: new limits for the container's cgroup in the guest, while its init is created, running or paused, and the
    /// VM resized to the pod's limits (docs/hotplug.md): the sum of its containers' memory limits plus the guest's
    /// overhead, the sum of their CPU limits, never below the boot size (boot RAM and boot vCPUs cannot be unplugged)
    /// nor above the VM's headroom. A VM that must grow grows first, so the new cgroup limit finds the memory and CPUs
    /// it allows; a VM that may shrink shrinks after the cgroup was lowered, so nothing the container is still allowed to
    /// use is taken from under it. A failed grow fails the Update with the cgroup unchanged; a shrink is best-effort.
    /// The pod's resize gate is held from the target's computation to the shrink, so a concurrent Update or Delete of
    /// another container plans from limits that are in force, never from a half-applied change.
    /// </summary>
    public async Task UpdateResourcesAsync(string containerId, ReadOnlyMemory<byte> resourcesJson, CancellationToken cancellationToken)
    {
        var limits = ResourceLimits.FromUpdate(resourcesJson.Span);
        var container = FindContainer(containerId);
        await container.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_lock)
            {
                if (container.Init.State is not (ProcessState.Created or ProcessState.Running or ProcessState.Paused))
                {
                    throw new PreconditionFailedException(
                        $"container {containerId}: cannot update resources: the container is {container.Init.State.ToString().ToLowerInvariant()}");
                }
            }
            var agent = RequireVm().Agent;
            await _podResizeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var life = Volatile.Read(ref _vm);
                var target = life is null ? null : PodTarget(life, containerId, limits);
                if (target is not null && life!.Size is { } current)
                {
                    var grown = new VmSize(Math.Max(current.MemoryMiB, target.MemoryMiB), Math.Max(current.Vcpus, target.Vcpus));
                    if (grown != current)
                    {
                        await life.ResizeAsync(grown, cancellationToken).ConfigureAwait(false);
                    }
                }
                await agent.UpdateResourcesAsync(containerId, resourcesJson, cancellationToken).ConfigureAwait(false);
                lock (_lock)
                {
                    container.Limits = limits;
                }
                if (target is not null && life!.Size is { } afterGrow && afterGrow != target)
                {
                    await ShrinkAsync(life, target, cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                _podResizeGate.Release();
            }
        }
        finally
        {
            container.Gate.Release();
        }
    }

    /// <summary>
    /// Create, once the VM is Ready and before anything is made for the container: the VM grows to the pod's target with
    /// the new container at <paramref name="limits"/> (docs/hotplug.md, "Creating a container"), as Kata hot-plugs on
    /// container create, so the container's cgroup finds the memory and CPUs it allows from its first instruction. Only
    /// grows: a VM that is already larger (a CRI pod sized at boot from its announced sums, a shrink the guest did not
    /// finish) keeps its size. Clamped to the headroom as an Update is. The container counts in the pod's resizes from
    /// here on (<see cref="_creating"/>), so an Update or Delete of another container planned before the Create ends
    /// does not take back what it was grown by. Returns whether the VM grew. A grow that fails fails the Create with
    /// <see cref="VmResizeFailedException"/>, nothing made yet: runc fails a create whose cgroup limits cannot be
    /// applied, and Kata's runtime fails a container create whose resource update fails.
    /// </summary>
    private async Task<bool> GrowForCreateAsync(string containerId, PodResources limits, CancellationToken cancellationToken)
    {
        await _podResizeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_lock)
            {
                _creating[containerId] = limits;
            }
            var life = Volatile.Read(ref _vm);
            if (life is null || life.Size is not { } current || PodTarget(life, containerId: null, PodResources.None) is not { } target)
            {
                return false;
            }
            var grown = new VmSize(Math.Max(current.MemoryMiB, target.MemoryMiB), Math.Max(current.Vcpus, target.Vcpus));
            if (grown == current)
            {
                return false;
            }
            Log.GrowForCreate(_logger, _options.SandboxId, containerId, current.ToString(), grown.ToString());
            try
            {
                await life.ResizeAsync(grown, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw new VmResizeFailedException(
                    $"container {containerId}: the pod's VM could not grow from {current} to {grown} for the container's limits, so it was not created: {e.Message}", e);
            }
            return true;
        }
        finally
        {
            _podResizeGate.Release();
        }
    }

    /// <summary>Why a container left a pod whose VM runs on, for the log line of the shrink that follows.</summary>
    private enum ShrinkCause
    {
        Deleted,
        CreateFailed,
    }

    /// <summary>
    /// After <paramref name="containerId"/> left a pod whose VM runs on (deleted, or its Create failed after the VM had
    /// grown for it): the VM's target is recomputed from the containers that remain (docs/hotplug.md) and the VM shrinks
    /// to it, in each dimension only down: what the container's limits had grown it by is given back, nothing a
    /// remaining container's limit allows is taken. It runs as one of the VM's watchers, after the Delete (or the failed
    /// Create) has answered: containerd's CRI deletes an exited task within its 10 s event budget, which a guest
    /// releasing memory under TCG can outlast. Best-effort, as every shrink: a failure is logged and the VM keeps its
    /// size; the VM's stop cancels it.
    /// </summary>
    private void ShrinkForRemaining(string containerId, ShrinkCause cause)
    {
        if (Volatile.Read(ref _vm) is { } life && life.Size is not null)
        {
            life.Watch(token => ShrinkForRemainingAsync(life, containerId, cause, token));
        }
    }

    private async Task ShrinkForRemainingAsync(SandboxVm life, string containerId, ShrinkCause cause, CancellationToken vmStopping)
    {
        try
        {
            await _podResizeGate.WaitAsync(vmStopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return; // the VM is stopping: there is nothing left to shrink
        }
        try
        {
            if (life.Size is not { } current || PodTarget(life, containerId: null, limits: PodResources.None) is not { } target)
            {
                return;
            }
            var lowered = new VmSize(Math.Min(current.MemoryMiB, target.MemoryMiB), Math.Min(current.Vcpus, target.Vcpus));
            if (lowered != current)
            {
                if (cause == ShrinkCause.Deleted)
                {
                    Log.ShrinkAfterDelete(_logger, _options.SandboxId, containerId, current.ToString(), lowered.ToString());
                }
                else
                {
                    Log.ShrinkAfterFailedCreate(_logger, _options.SandboxId, containerId, current.ToString(), lowered.ToString());
                }
                await ShrinkAsync(life, lowered, vmStopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (vmStopping.IsCancellationRequested)
        {
            // The VM stops; its size no longer matters.
        }
        finally
        {
            _podResizeGate.Release();
        }
    }

    /// <summary>
    /// The VM size the pod's limits ask for with <paramref name="containerId"/> at <paramref name="limits"/> (null: every
    /// registered container at its recorded limits), counting the containers being created at the limits their Create
    /// grew the VM for; null for a fixed-size VM.
    /// </summary>
    private VmSize? PodTarget(SandboxVm life, string? containerId, PodResources limits)
    {
        if (!life.TryGetReady(out var vm) || vm.Resize is not { } resize)
        {
            return null;
        }
        List<PodResources> all;
        lock (_lock)
        {
            all = [.. _containers.Values.Select(c => c.Id == containerId ? limits : c.Limits), .. _creating.Values];
        }
        var (memoryMiB, vcpus) = VmSizing.ForContainers(resize.Boot.MemoryMiB, resize.Boot.Vcpus, all);
        return new VmSize(memoryMiB, vcpus);
    }

    /// <summary>After the grow step the VM is at least <paramref name="target"/> in both dimensions, so this only lowers.</summary>
    private async Task ShrinkAsync(SandboxVm life, VmSize target, CancellationToken cancellationToken)
    {
        try
        {
            await life.ResizeAsync(target, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.ShrinkFailed(_logger, _options.SandboxId, target.ToString(), e.Message);
        }
    }

    /// <summary>
    /// An OOM kill the VM's watch reported: TaskOOM for a container this shim still serves (the guest may name one
    /// that was deleted meanwhile), unless a process's exit already published it.
    /// </summary>
    private void PublishOom(GuestOomKills kills)
    {
        lock (_lock)
        {
            if (!_containers.TryGetValue(kills.ContainerId, out var container) || !TryPublishOomLocked(container, kills.Count))
            {
                return;
            }
        }
        Log.OomKill(_logger, kills.ContainerId);
    }

    /// <summary>
    /// Call under <see cref="_lock"/>. Publishes TaskOOM when <paramref name="kills"/> (the container's count since its
    /// creation, from the OOM watch or a process's exit) is above the last count published: the two guest answers may
    /// arrive in either order, and the kill must be published once, before the exit it caused (docs/agent-api.md).
    /// </summary>
    private bool TryPublishOomLocked(ShimContainer container, ulong kills)
    {
        if (kills <= container.OomKillsPublished)
        {
            return false;
        }
        container.OomKillsPublished = kills;
        _events.Publish(new TaskOom(_time.GetUtcNow(), container.Id));
        return true;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 109, Level = LogLevel.Warning, Message = "Container {ContainerId}: OOM kill in its memory cgroup")]
        public static partial void OomKill(ILogger logger, string containerId);

        [LoggerMessage(EventId = 139, Level = LogLevel.Warning, Message = "Sandbox {SandboxId}: shrinking the VM to {Target} failed, it keeps its size: {Reason}")]
        public static partial void ShrinkFailed(ILogger logger, string sandboxId, string target, string reason);

        [LoggerMessage(EventId = 134, Level = LogLevel.Information, Message = "Sandbox {SandboxId}: container {ContainerId} deleted, shrinking the VM from {Current} to {Target} for the containers that remain")]
        public static partial void ShrinkAfterDelete(ILogger logger, string sandboxId, string containerId, string current, string target);

        [LoggerMessage(EventId = 930, Level = LogLevel.Information, Message = "Sandbox {SandboxId}: creating container {ContainerId}, growing the VM from {Current} to {Target} for the pod's limits")]
        public static partial void GrowForCreate(ILogger logger, string sandboxId, string containerId, string current, string target);

        [LoggerMessage(EventId = 931, Level = LogLevel.Information, Message = "Sandbox {SandboxId}: the create of container {ContainerId} failed, shrinking the VM from {Current} to {Target} for the containers that remain")]
        public static partial void ShrinkAfterFailedCreate(ILogger logger, string sandboxId, string containerId, string current, string target);

    }
}
