using System.Collections.Concurrent;
using Cc.Agent.Protocol;
using Cc.Agent.Protocol.V1;
using Cc.Shim.Sandbox;
using Cc.Shim.Tests.Fakes;
using Cc.TestKit;
using Cc.Ttrpc;
using ExecRequest = Cc.Shim.Sandbox.ExecRequest;

namespace Cc.Shim.Tests;

/// <summary>
/// A process's stdin closed before the process exists in the guest: <see cref="AgentGuest"/> over a real ttrpc
/// connection to an agent that, as ours does, knows an exec only from its ExecProcess on and answers NotFound before.
/// `ctr task exec` fed /dev/null ends its FIFO before Start: make stress showed "Copying stdin … failed: process e1
/// does not exist" in 40 of 100 cycles, and the guest's stdin of such a process was never closed.
/// </summary>
public sealed class AgentStdinTests : IAsyncLifetime
{
    private static readonly ProcessKey E1 = new("c1", "e1");

    private readonly StrictAgent _agent = new();
    private AgentOverSocket? _served;
    private AgentGuest _guest = null!;

    public async Task InitializeAsync() => (_served, _guest) = await AgentOverSocket.StartAsync(_agent);

    public async Task DisposeAsync()
    {
        if (_served is not null)
        {
            await _served.DisposeAsync();
        }
    }

    private static ExecRequest Exec(ProcessKey key) =>
        new(key.ContainerId, key.ExecId, new StdioSpec("/fifo/stdin", "", "", Terminal: false), "{}"u8.ToArray());

    [Fact]
    public async Task A_close_of_an_exec_stdin_before_its_start_succeeds_and_reaches_the_guest_right_after_the_start()
    {
        await _guest.ExecAsync(Exec(E1), CancellationToken.None);

        await _guest.CloseStdinAsync(E1, CancellationToken.None).WithTimeout();
        _agent.Calls.ShouldBeEmpty("nothing reaches the guest before the exec exists there");

        await _guest.StartAsync(E1, CancellationToken.None).WithTimeout();

        _agent.Calls.ShouldBe(["exec c1/e1", "close-stdin c1/e1"]);
    }

    [Fact]
    public async Task A_close_after_the_start_goes_to_the_guest_at_once()
    {
        await _guest.ExecAsync(Exec(E1), CancellationToken.None);
        await _guest.StartAsync(E1, CancellationToken.None).WithTimeout();

        await _guest.CloseStdinAsync(E1, CancellationToken.None).WithTimeout();

        _agent.Calls.ShouldBe(["exec c1/e1", "close-stdin c1/e1"]);
    }

    [Fact]
    public async Task A_close_kept_for_an_exec_deleted_before_its_start_is_dropped_with_it()
    {
        await _guest.ExecAsync(Exec(E1), CancellationToken.None);
        await _guest.CloseStdinAsync(E1, CancellationToken.None).WithTimeout();

        _guest.ForgetExec(E1);
        await _guest.ExecAsync(Exec(E1), CancellationToken.None); // the id again, a new exec whose stdin stays open
        await _guest.StartAsync(E1, CancellationToken.None).WithTimeout();

        _agent.Calls.ShouldBe(["exec c1/e1"]);
    }

    /// <summary>As src/Cc.Agent's ContainerManager: an exec exists from its ExecProcess on; before, its stdin is NotFound.</summary>
    private sealed class StrictAgent : AgentServiceBase
    {
        private readonly ConcurrentDictionary<ProcessKey, byte> _execs = new();

        public ConcurrentQueue<string> Calls { get; } = new();

        public override ValueTask<ExecProcessResponse> ExecProcessAsync(ExecProcessRequest request, ServerCallContext context)
        {
            var key = new ProcessKey(request.ContainerId, request.ExecId);
            _execs[key] = 0;
            Calls.Enqueue($"exec {key}");
            return ValueTask.FromResult(new ExecProcessResponse { Pid = 7 });
        }

        public override ValueTask<CloseStdinResponse> CloseStdinAsync(CloseStdinRequest request, ServerCallContext context)
        {
            var key = new ProcessKey(request.ContainerId, request.ExecId);
            if (!_execs.ContainsKey(key))
            {
                throw new TtrpcException(StatusCode.NotFound, $"process {request.ExecId} does not exist in container {request.ContainerId}");
            }
            Calls.Enqueue($"close-stdin {key}");
            return ValueTask.FromResult(new CloseStdinResponse());
        }
    }
}
