namespace Cc.Integration.Docker.Harness;

/// <summary>
/// Shared by every test of the "docker" collection: one private dockerd (and its containerd) for the whole tier, started
/// once; its disposal leaves nothing behind (hack/docker/stop.sh) or fails the run.
/// </summary>
public sealed class DockerFixture : IAsyncLifetime
{
    // Cancelled on disposal: a start still in progress then must not outlive the fixture.
    private readonly CancellationTokenSource _lifetime = new();
    private PrivateDocker? _docker;

    internal PrivateDocker Docker => _docker ?? throw new InvalidOperationException("fixture not initialized");

    public async Task InitializeAsync() => _docker = await PrivateDocker.StartAsync(_lifetime.Token);

    public async Task DisposeAsync()
    {
        await _lifetime.CancelAsync();
        _lifetime.Dispose();
        if (_docker is not null)
        {
            await _docker.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class DockerCollection : ICollectionFixture<DockerFixture>
{
    /// <summary>One collection: the tests share the dockerd and run one at a time (2 cores, QEMU under TCG).</summary>
    public const string Name = "docker";
}
