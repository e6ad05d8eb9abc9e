namespace Cc.Integration.Cri.Harness;

/// <summary>
/// The CRI containerds of the tier, one per version, started on first use and shared by every test (a start costs
/// seconds and the image import more); disposed, with everything their pods left, when the tier ends.
/// </summary>
public sealed class CriFixture : IAsyncLifetime
{
    private readonly Dictionary<string, Task<CriContainerd>> _instances = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    internal Task<CriContainerd> ContainerdAsync(string version)
    {
        lock (_lock)
        {
            if (!_instances.TryGetValue(version, out var instance))
            {
                instance = CriContainerd.StartAsync(version, CancellationToken.None);
                _instances.Add(version, instance);
            }
            return instance;
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        var failures = new List<Exception>();
        foreach (var instance in _instances.Values)
        {
            try
            {
                await (await instance).DisposeAsync();
            }
            catch (Exception e)
            {
                failures.Add(e);
            }
        }
        if (failures.Count > 0)
        {
            throw new AggregateException("CRI containerd clean-up failed", failures);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class CriCollection : ICollectionFixture<CriFixture>
{
    public const string Name = "cri";
}
