using System.Collections.Concurrent;
using System.Threading.Channels;
using Cc.Agent.Protocol;
using Cc.Shim.Sandbox;
using Cc.TestKit;
using Cc.Ttrpc;

namespace Cc.Shim.Tests.Fakes;

/// <summary>
/// A VM in memory whose guest is a <see cref="FakeAgent"/>: the shim's real <see cref="AgentGuest"/> and generated
/// <see cref="AgentClient"/> talk ttrpc to it over an in-memory connection, so the tests cross the real client path
/// (deadlines on the wire, status mapping) and a new rpc needs no edit here. The guest's processes exit when signalled
/// (128 + signal) or when a test says so; their output is whatever a test queued. The VM's death, stop and disposal
/// close the connection, as QEMU's end closes the agent's port.
/// </summary>
public sealed class FakeVm : ISandboxVm
{
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<ProcessKey, TaskCompletionSource<ExitStatus>> _exits = new();
    private readonly ConcurrentDictionary<(ProcessKey, StdioStream), FakeOutput> _output = new();
    private readonly TtrpcServer _server = new();
    private readonly CancellationTokenSource _connection = new();
    private readonly TtrpcClient _client;
    private readonly Task _serving;
    private int _closed;

    public FakeVm(FakeEngine engine, int pid)
    {
        Pid = pid;
        _server.Register(AgentServiceBinding.Bind(new FakeAgent(this, engine.Calls)));
        var (host, guest) = DuplexPipe.Create();
        _serving = _server.ServeConnectionAsync(guest, _connection.Token);
        _client = new TtrpcClient(host);
        Agent = new AgentGuest(new AgentClient(_client));
    }

    public int Pid { get; }
    public Task Exited => _exited.Task;
    public AgentGuest Agent { get; }

    /// <summary>The VM's resize seam; null (the default) is a fixed-size VM.</summary>
    public IVmResize? Resize { get; set; }

    /// <summary>
    /// Guest container creates, cgroup updates and VM resizes in the order they happened ("create c2", "cgroup c1",
    /// "resize 1152 MiB, 2 vCPUs").
    /// </summary>
    public ConcurrentQueue<string> Steps { get; } = new();
    public bool Stopped { get; private set; }
    public bool Died { get; private set; }
    public bool Disposed { get; private set; }
    public ConcurrentDictionary<ProcessKey, string> StdinReceived { get; } = new();
    public ConcurrentDictionary<string, int> Signals { get; } = new();

    /// <summary>When set, completed as a CreateContainer reaches the guest.</summary>
    public TaskCompletionSource? CreateArrived { get; set; }

    /// <summary>When set, CreateContainer fails with it (a guest that refuses the container: crun create failed).</summary>
    public TtrpcException? CreateFailure { get; set; }

    /// <summary>When set, CreateContainer answers only once this completes (to change the world half-way through a Create).</summary>
    public TaskCompletionSource? CreateGate { get; set; }

    /// <summary>The deadline (timeout_nano) each kind of guest call arrived with, by call ("start", "wait"); null = none.</summary>
    public ConcurrentDictionary<string, DateTimeOffset?> CallerDeadlines { get; } = new();

    /// <summary>Set when the first exit watch reaches the guest.</summary>
    public TaskCompletionSource WaitArrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Set when a RemoveContainer reaches the guest.</summary>
    public TaskCompletionSource RemoveArrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>When set, RemoveContainer answers only once this completes (to hold a Delete half-way).</summary>
    public TaskCompletionSource? RemoveGate { get; set; }

    /// <summary>The resources JSON of each UpdateContainer, by container id.</summary>
    public ConcurrentQueue<(string ContainerId, string Json)> Updates { get; } = new();

    /// <summary>
    /// A test writes a container id here to make the guest report an OOM kill in it: the GetOomEvent answer counts one
    /// more kill for that container.
    /// </summary>
    public Channel<string> OomKills { get; } = Channel.CreateUnbounded<string>();

    /// <summary>Each container's OOM kills so far, as GetOomEvent and WaitProcess answers carry them.</summary>
    public ConcurrentDictionary<string, ulong> OomKillCounts { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Counts an OOM kill in <paramref name="containerId"/> whose GetOomEvent answer has not reached the host (it comes
    /// when the test writes the id to <see cref="OomKills"/>, if ever): only the next WaitProcess answers carry it.
    /// </summary>
    public void CountOomKillUnreported(string containerId)
    {
        OomKillCounts.AddOrUpdate(containerId, 1, (_, n) => n + 1);
        _unreportedOomKills[containerId] = true;
    }

    /// <summary>Whether a kill counted by <see cref="CountOomKillUnreported"/> is still to be reported (and now is).</summary>
    public bool TakeUnreportedOomKill(string containerId) => _unreportedOomKills.TryRemove(containerId, out _);

    private readonly ConcurrentDictionary<string, bool> _unreportedOomKills = new(StringComparer.Ordinal);

    /// <summary>While set, health checks get no answer (a hung guest): they end at their own deadline.</summary>
    public bool AgentSilent { get; set; }

    /// <summary>Health checks that reached the agent.</summary>
    public int Pings;

    /// <summary>The execs the shim holds registered and not started (the real guest proxy's store).</summary>
    public IReadOnlyCollection<ProcessKey> RegisteredExecs => Agent.RegisteredExecs;

    /// <summary>Makes a process exit with <paramref name="code"/>; its queued output is still read first.</summary>
    public void Exit(ProcessKey key, uint code)
    {
        ExitOf(key).TrySetResult(new ExitStatus(code, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000)));
        OutputOf(key, StdioStream.Stdout).End();
        OutputOf(key, StdioStream.Stderr).End();
    }

    public void QueueOutput(ProcessKey key, StdioStream stream, string text) =>
        OutputOf(key, stream).Write(System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>Creates container <paramref name="containerId"/> in the guest as the sandbox does, so its stdio can be read.</summary>
    public Task CreateContainerAsync(string containerId) =>
        Agent.CreateContainerAsync(containerId, "{}"u8.ToArray(), $"/run/cc/shared/containers/{containerId}/rootfs", StdioSpec.None,
            PodMembership.Standalone, CancellationToken.None);

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Stopped = true;
        _exited.TrySetResult();
        await CloseConnectionAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// The VMM dies (as after kill -9 of QEMU): <see cref="Exited"/> completes and the agent's connection ends, so every
    /// outstanding guest call fails as the session's calls fail when the port goes away.
    /// </summary>
    public void Die()
    {
        Died = true;
        _exited.TrySetResult();
        _connection.Cancel();
    }

    /// <summary>When set, the session's release (DisposeAsync) waits for it: a stop held after the VMM ended.</summary>
    public TaskCompletionSource? DisposeGate { get; set; }

    public async ValueTask DisposeAsync()
    {
        if (DisposeGate is { } gate)
        {
            await gate.Task.ConfigureAwait(false);
        }
        Disposed = true;
        await CloseConnectionAsync().ConfigureAwait(false);
    }

    internal TaskCompletionSource<ExitStatus> ExitOf(ProcessKey key) =>
        _exits.GetOrAdd(key, _ => new TaskCompletionSource<ExitStatus>(TaskCreationOptions.RunContinuationsAsynchronously));

    internal FakeOutput OutputOf(ProcessKey key, StdioStream stream) => _output.GetOrAdd((key, stream), _ => new FakeOutput());

    // Idempotent: the sandbox stops and then disposes its VM, and a test may do either again.
    private async Task CloseConnectionAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 1)
        {
            return;
        }
        await _connection.CancelAsync().ConfigureAwait(false);
        await _client.DisposeAsync().ConfigureAwait(false);
        await _server.DisposeAsync().ConfigureAwait(false);
        try
        {
            await _serving.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not TimeoutException)
        {
            // The connection ends aborted; how is not under test.
        }
    }
}

/// <summary>One output stream of a guest process: chunks a test queued, then the end once the process has exited.</summary>
internal sealed class FakeOutput
{
    private readonly Channel<byte[]> _chunks = Channel.CreateUnbounded<byte[]>();
    private readonly object _lock = new();
    private byte[]? _rest; // guarded by _lock: what a read shorter than its chunk left

    public void Write(byte[] chunk) => _chunks.Writer.TryWrite(chunk);

    public void End() => _chunks.Writer.TryComplete();

    /// <summary>Up to <paramref name="max"/> bytes, waiting for some; empty at the end.</summary>
    public async Task<byte[]> ReadAsync(int max, CancellationToken cancellationToken)
    {
        while (true)
        {
            lock (_lock)
            {
                if (_rest is { } rest)
                {
                    _rest = rest.Length > max ? rest[max..] : null;
                    return rest.Length > max ? rest[..max] : rest;
                }
                if (_chunks.Reader.TryRead(out var chunk))
                {
                    _rest = chunk.Length > max ? chunk[max..] : null;
                    return chunk.Length > max ? chunk[..max] : chunk;
                }
            }
            if (!await _chunks.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return [];
            }
        }
    }
}
