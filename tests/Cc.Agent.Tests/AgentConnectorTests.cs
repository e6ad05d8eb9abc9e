using System.Diagnostics;
using System.Net.Sockets;
using Cc.Agent.Guest;
using Cc.Agent.Protocol;
using Cc.Agent.Protocol.V1;
using Cc.Agent.Service;
using Cc.Agent.Tests.Fixtures;
using Cc.Ttrpc;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Agent.Tests;

// AgentConnector against the situations a VM produces: a socket that does not exist yet, and a
// connection that is accepted long before anyone reads it (virtio-serial before the guest opens
// its port).
public sealed class AgentConnectorTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private readonly BusyboxBundle _world = new();

    [Fact]
    public async Task It_retries_until_the_socket_exists_and_the_agent_answers()
    {
        var path = Path.Combine(_world.Root, "late.sock");
        await using var server = NewServer();
        using var stop = new CancellationTokenSource();

        var connecting = AgentConnector.ConnectAsync("unix://" + path, s_timeout);
        await Task.Delay(300);
        connecting.IsCompleted.ShouldBeFalse();
        var serving = server.ServeAsync("unix://" + path, stop.Token);

        var client = await connecting.WaitAsync(s_timeout);
        (await client.CheckAsync(new CheckRequest()).WaitAsync(s_timeout)).Ready.ShouldBeTrue();
        await client.Connection.DisposeAsync();
        await stop.CancelAsync();
    }

    [Fact]
    public async Task A_connection_nobody_reads_yet_is_probed_until_the_late_reader_answers()
    {
        var path = Path.Combine(_world.Root, "quiet.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        await using var server = NewServer();

        var watch = Stopwatch.StartNew();
        var connecting = AgentConnector.ConnectAsync("unix://" + path, s_timeout, probeTimeout: TimeSpan.FromMilliseconds(200));
        using var accepted = await listener.AcceptAsync().WaitAsync(s_timeout);
        // The "guest" opens its port only now: several probes have timed out and their requests
        // wait in the socket; their late answers must be dropped, the connector must still succeed.
        await Task.Delay(1000);
        connecting.IsCompleted.ShouldBeFalse();
        var serving = server.ServeConnectionAsync(new NetworkStream(accepted, ownsSocket: false));

        var client = await connecting.WaitAsync(s_timeout);
        watch.Elapsed.ShouldBeGreaterThan(TimeSpan.FromMilliseconds(900));
        (await client.GetGuestDetailsAsync(new GetGuestDetailsRequest()).WaitAsync(s_timeout)).Ready.ShouldBeTrue();
        await client.Connection.DisposeAsync();
        await serving.WaitAsync(s_timeout);
    }

    [Fact]
    public async Task Probes_that_time_out_double_their_timeout_so_a_short_first_probe_does_not_flood_the_guest()
    {
        var path = Path.Combine(_world.Root, "silent.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        using var stop = new CancellationTokenSource();

        var connecting = AgentConnector.ConnectAsync("unix://" + path, s_timeout,
            probeTimeout: TimeSpan.FromMilliseconds(50), cancellationToken: stop.Token);
        using var accepted = await listener.AcceptAsync().WaitAsync(s_timeout);
        // A guest that never answers: count the Check requests arriving within 1.6 s. A fixed 50 ms probe would send
        // ~32; doubling (50, 100, 200, 400, 800 ms) sends at 0, 50, 150, 350, 750 and 1,550 ms.
        var requests = await CountRequestFramesAsync(accepted, TimeSpan.FromMilliseconds(1600));
        await stop.CancelAsync();
        // Cancelled mid-probe: the client reports it as a ttrpc Cancelled status, between probes as an OCE.
        (await Should.ThrowAsync<Exception>(() => connecting.WaitAsync(s_timeout)))
            .ShouldSatisfyAllConditions(e => (e is OperationCanceledException or TtrpcException).ShouldBeTrue(e.ToString()));

        requests.ShouldBeInRange(2, 8);
    }

    [Fact]
    public async Task The_guest_opening_its_port_sends_the_next_probe_at_once_instead_of_after_the_probe_timeout()
    {
        var path = Path.Combine(_world.Root, "opening.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        using var stop = new CancellationTokenSource();
        // The port's open as the VM reports it (QEMU's VSERPORT_CHANGE): one signal, awaited afresh by every probe.
        var portOpened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int waits = 0;
        Task NextOpen(CancellationToken token)
        {
            Interlocked.Increment(ref waits);
            return portOpened.Task.WaitAsync(token);
        }

        // A probe timeout far beyond the test's bound: only the open can bring a second Check within it.
        var connecting = AgentConnector.ConnectAsync("unix://" + path, s_timeout, probeTimeout: TimeSpan.FromMinutes(10),
            guestPortOpened: NextOpen, cancellationToken: stop.Token);
        using var accepted = await listener.AcceptAsync().WaitAsync(s_timeout);
        var frames = new RequestFrames(accepted);
        // The first Check, held back as QEMU holds a request written while the guest's port was closed.
        await frames.NextAsync().WaitAsync(s_timeout);
        Volatile.Read(ref waits).ShouldBe(1);

        portOpened.SetResult();
        var second = await frames.NextAsync().WaitAsync(s_timeout);

        second.StreamId.ShouldBeGreaterThan(1u);
        connecting.IsCompleted.ShouldBeFalse();
        await stop.CancelAsync();
        (await Should.ThrowAsync<Exception>(() => connecting.WaitAsync(s_timeout)))
            .ShouldSatisfyAllConditions(e => (e is OperationCanceledException or TtrpcException).ShouldBeTrue(e.ToString()));
    }

    /// <summary>The request frames arriving on a socket, one at a time (header as in <see cref="CountRequestFramesAsync"/>).</summary>
    private sealed class RequestFrames(Socket socket)
    {
        private readonly List<byte> _buffered = [];

        public async Task<(uint StreamId, int Length)> NextAsync()
        {
            var chunk = new byte[4096];
            while (true)
            {
                while (_buffered.Count >= 10)
                {
                    int length = (_buffered[0] << 24) | (_buffered[1] << 16) | (_buffered[2] << 8) | _buffered[3];
                    if (_buffered.Count < 10 + length)
                    {
                        break;
                    }
                    uint stream = (uint)((_buffered[4] << 24) | (_buffered[5] << 16) | (_buffered[6] << 8) | _buffered[7]);
                    bool request = _buffered[8] == 1;
                    _buffered.RemoveRange(0, 10 + length);
                    if (request)
                    {
                        return (stream, length);
                    }
                }
                int read = await socket.ReceiveAsync(chunk, SocketFlags.None);
                if (read == 0)
                {
                    throw new EndOfStreamException("the connector closed the connection");
                }
                _buffered.AddRange(chunk.AsSpan(0, read).ToArray());
            }
        }
    }

    // ttrpc frame header: length u32 BE, stream id u32 BE, type u8 (1 = request), flags u8; then length bytes.
    private static async Task<int> CountRequestFramesAsync(Socket socket, TimeSpan window)
    {
        using var deadline = new CancellationTokenSource(window);
        var buffered = new List<byte>();
        var chunk = new byte[4096];
        int requests = 0;
        try
        {
            while (true)
            {
                int read = await socket.ReceiveAsync(chunk, SocketFlags.None, deadline.Token);
                if (read == 0)
                {
                    break;
                }
                buffered.AddRange(chunk.AsSpan(0, read).ToArray());
                while (buffered.Count >= 10)
                {
                    int length = (buffered[0] << 24) | (buffered[1] << 16) | (buffered[2] << 8) | buffered[3];
                    if (buffered.Count < 10 + length)
                    {
                        break;
                    }
                    requests += buffered[8] == 1 ? 1 : 0;
                    buffered.RemoveRange(0, 10 + length);
                }
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
        }
        return requests;
    }

    [Fact]
    public async Task Nothing_listening_ends_in_a_TimeoutException_at_the_deadline()
    {
        var watch = Stopwatch.StartNew();

        var error = await Should.ThrowAsync<TimeoutException>(() =>
            AgentConnector.ConnectAsync("unix://" + Path.Combine(_world.Root, "absent.sock"), TimeSpan.FromMilliseconds(500)).WaitAsync(s_timeout));

        error.Message.ShouldContain("absent.sock");
        watch.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(10));
    }

    public void Dispose() => _world.Dispose();

    private TtrpcServer NewServer()
    {
        var manager = new Containers.ContainerManager(_world.Options, NullLoggerFactory.Instance);
        var guest = new GuestSystem(NullLoggerFactory.Instance.CreateLogger("guest"));
        guest.MarkReady();
        var server = new TtrpcServer();
        server.Register(AgentServiceBinding.Bind(new AgentService(manager, guest, _world.Options, NullLoggerFactory.Instance)));
        return server;
    }
}
