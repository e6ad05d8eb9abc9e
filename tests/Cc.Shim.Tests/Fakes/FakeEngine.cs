using System.Collections.Concurrent;
using Cc.Shim.Sandbox;

namespace Cc.Shim.Tests.Fakes;

/// <summary>
/// The VM launcher and rootfs provider of the shim's tests: each launch is a <see cref="FakeVm"/>, whose guest is a
/// <see cref="FakeAgent"/> served over ttrpc. Records every call that reached the "guest" in <see cref="Calls"/>.
/// </summary>
public sealed class FakeEngine : IVmLauncher, IRootfsProvider
{
    public FakeVm? Vm { get; private set; }
    public int Launches;
    public ConcurrentQueue<string> Calls { get; } = new();
    public ConcurrentDictionary<string, string> PreparedRootfs { get; } = new();
    public Exception? FailLaunch { get; set; }
    public VmLaunchRequest? LastLaunch { get; private set; }

    public Task<ISandboxVm> LaunchAsync(VmLaunchRequest request, CancellationToken cancellationToken)
    {
        if (FailLaunch is { } failure)
        {
            throw failure;
        }
        Interlocked.Increment(ref Launches);
        LastLaunch = request;
        Vm = new FakeVm(this, 40000 + Launches);
        return Task.FromResult<ISandboxVm>(Vm);
    }

    public Task<SharedContainer> PrepareAsync(string containerId, string bundle, IReadOnlyList<RootfsMount> mounts,
        ReadOnlyMemory<byte> spec, string sharedDirectory, CancellationToken cancellationToken)
    {
        PreparedRootfs[containerId] = sharedDirectory;
        return Task.FromResult(new SharedContainer($"/run/cc/shared/containers/{containerId}/rootfs", spec));
    }

    public Task ReleaseAsync(string containerId, string sharedDirectory, CancellationToken cancellationToken)
    {
        PreparedRootfs.TryRemove(containerId, out _);
        return Task.CompletedTask;
    }
}

/// <summary>A VM that resizes to whatever it is asked (within its headroom, as SandboxVm clamps), or fails when told to.</summary>
public sealed class FakeResize(ConcurrentQueue<string> steps, VmSize boot, VmSize max) : IVmResize
{
    public VmSize Boot { get; } = boot;
    public VmSize Max { get; } = max;
    public VmSize Current { get; private set; } = boot;

    /// <summary>Set to make the next resizes fail the way a QMP error does.</summary>
    public Exception? Failure { get; set; }

    public Task<VmSize> ResizeAsync(VmSize target, CancellationToken cancellationToken)
    {
        if (Failure is { } failure)
        {
            steps.Enqueue($"resize {target} failed");
            return Task.FromException<VmSize>(failure);
        }
        steps.Enqueue("resize " + target);
        Current = target;
        return Task.FromResult(target);
    }
}
