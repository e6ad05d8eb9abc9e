using System.Text;
using Cc.Agent.Containers;
using Cc.Agent.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Agent.Tests;

// The domain directly, without the wire: crun on the host against a busybox rootfs.
public sealed class ContainerManagerTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private readonly BusyboxBundle _world = new();
    private readonly ContainerManager _manager;

    public ContainerManagerTests() => _manager = new ContainerManager(_world.Options, NullLoggerFactory.Instance);

    [Fact]
    public async Task A_started_container_prints_its_output_and_exits_with_its_code()
    {
        var pid = await _manager.CreateAsync("c1", BusyboxBundle.Spec("sh", "-c", "echo hi; exit 3"), _world.Rootfs,
            terminal: false, stdin: false, CancellationToken.None).WaitAsync(s_timeout);
        pid.ShouldBeGreaterThan(0);
        await _manager.StartAsync("c1", CancellationToken.None).WaitAsync(s_timeout);

        var output = await ReadAllAsync("c1", "", ContainerManager.OutputStream.Stdout);
        var (status, waitedPid, oomKills) = await _manager.WaitAsync("c1", "", CancellationToken.None).WaitAsync(s_timeout);

        output.ShouldBe("hi\n");
        status.Code.ShouldBe(3);
        waitedPid.ShouldBe(pid);
        oomKills.ShouldBe(0UL);
        await _manager.RemoveAsync("c1", CancellationToken.None).WaitAsync(s_timeout);
        Directory.Exists(Path.Combine(_world.Options.ContainersDirectory, "c1")).ShouldBeFalse();
    }

    public void Dispose()
    {
        _manager.RemoveAllAsync(CancellationToken.None).Wait(s_timeout);
        _world.Dispose();
    }

    private async Task<string> ReadAllAsync(string id, string execId, ContainerManager.OutputStream stream)
    {
        var text = new StringBuilder();
        while (true)
        {
            var (chunk, _) = await _manager.ReadAsync(id, execId, stream, 4096, CancellationToken.None).AsTask().WaitAsync(s_timeout);
            if (chunk.IsEmpty)
            {
                return text.ToString();
            }

            text.Append(Encoding.UTF8.GetString(chunk.Span));
        }
    }
}
