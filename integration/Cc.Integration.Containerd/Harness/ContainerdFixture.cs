using System.Collections.Concurrent;

namespace Cc.Integration.Containerd.Harness;

/// <summary>
/// Shared by every test of the "containerd" collection: builds the test images once and starts one
/// private containerd per version on first use (a 1.7 failure must not stop the 1.6 tests), with the
/// busybox and pause images imported into <see cref="PrivateContainerd.Namespace"/>. Disposal stops every
/// instance and removes its files (hack/containerd/stop.sh).
/// </summary>
public sealed class ContainerdFixture : IAsyncLifetime
{
    private static readonly TimeSpan s_importTimeout = TimeSpan.FromMinutes(2);

    // Guards _instances: theories of both versions may ask concurrently if parallelism is ever enabled.
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, Task<PrivateContainerd>> _instances = new(StringComparer.Ordinal);
    // "<runtime>@<version>" -> what hung first (the timeout message).
    private readonly ConcurrentDictionary<string, string> _hangs = new(StringComparer.Ordinal);
    // Cancelled on disposal: a start still in progress then must not outlive the fixture.
    private readonly CancellationTokenSource _lifetime = new();
    private TestImages? _images;

    internal TestImages Images => _images ?? throw new InvalidOperationException("fixture not initialized");

    public async Task InitializeAsync() => _images = await TestImages.BuildAsync(_lifetime.Token);

    internal void RecordHang(string runtime, string version, string what) => _hangs.TryAdd($"{runtime}@{version}", what);

    internal string? EarlierHang(string runtime, string version) =>
        _hangs.TryGetValue($"{runtime}@{version}", out var what) ? what : null;

    /// <summary>The running instance of <paramref name="version"/>; a failed start fails every later call the same way.</summary>
    internal async Task<PrivateContainerd> GetAsync(string version, CancellationToken cancellationToken)
    {
        Task<PrivateContainerd> instance;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (!_instances.TryGetValue(version, out instance!))
            {
                instance = StartAndImportAsync(version, _lifetime.Token);
                _instances[version] = instance;
            }
        }
        finally
        {
            _gate.Release();
        }

        return await instance.WaitAsync(cancellationToken);
    }

    public async Task DisposeAsync()
    {
        await _lifetime.CancelAsync();
        var failures = new List<Exception>();
        foreach (var instance in _instances.Values)
        {
            try
            {
                if (instance.IsCompletedSuccessfully)
                {
                    await instance.Result.DisposeAsync();
                }
            }
            catch (InvalidOperationException e)
            {
                failures.Add(e);
            }
        }

        _gate.Dispose();
        _lifetime.Dispose();
        if (failures.Count > 0)
        {
            throw new AggregateException("private containerd clean-up failed", failures);
        }
    }

    private async Task<PrivateContainerd> StartAndImportAsync(string version, CancellationToken cancellationToken)
    {
        var containerd = await PrivateContainerd.StartAsync(version, cancellationToken);
        foreach (var (baseName, tar) in new[] { (Images.BusyboxBase, Images.BusyboxTar), (Images.PauseBase, Images.PauseTar) })
        {
            var import = await containerd.CtrAsync(s_importTimeout, cancellationToken, ["images", "import", "--base-name", baseName, tar]);
            if (import.ExitCode != 0)
            {
                await containerd.DisposeAsync();
                throw new InvalidOperationException($"containerd {version} could not import {tar}:\n{import.Describe()}");
            }
        }

        return containerd;
    }
}

[CollectionDefinition(Name)]
public sealed class ContainerdCollection : ICollectionFixture<ContainerdFixture>
{
    /// <summary>One collection: the tests share the instances and run one at a time (2 cores, QEMU under TCG).</summary>
    public const string Name = "containerd";
}
