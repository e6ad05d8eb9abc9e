using System.Net;
using System.Net.Sockets;
using System.Text;
using Cc.Agent.Protocol.V1;
using Cc.Agent.Tests.Fixtures;
using Cc.Ttrpc;
using Google.Protobuf;

namespace Cc.Agent.Tests;

// The agent's port-forward calls over the wire, against a server on this host's loopback (an agent run as a process
// connects in its own network namespace, as PID 1 of a guest does in the pod's).
public sealed class PortForwardServiceTests : IAsyncLifetime
{
    private AgentOverTtrpc _agent = null!;

    public async Task InitializeAsync() => _agent = await AgentOverTtrpc.StartAsync();

    public async Task DisposeAsync() => await _agent.DisposeAsync();

    [Fact]
    public async Task A_stream_carries_bytes_both_ways_and_the_half_close_and_the_servers_end_of_stream()
    {
        using var server = Listen();
        var port = ((IPEndPoint)server.LocalEndPoint!).Port;
        var opened = await _agent.Client.OpenPortForwardAsync(new OpenPortForwardRequest { Port = (uint)port });
        using var accepted = await server.AcceptAsync().WaitAsync(AgentOverTtrpc.Timeout);

        var written = await _agent.Client.WritePortForwardAsync(new WritePortForwardRequest
        {
            StreamId = opened.StreamId, Data = ByteString.CopyFromUtf8("ping"),
        });
        written.Written.ShouldBe(4u);
        await _agent.Client.ClosePortForwardAsync(new ClosePortForwardRequest { StreamId = opened.StreamId, WriteOnly = true });
        (await ReadToEndAsync(accepted)).ShouldBe("ping", "the host's half-close is the server's end of stream");

        await accepted.SendAsync("pong"u8.ToArray(), SocketFlags.None);
        accepted.Shutdown(SocketShutdown.Send);
        var answer = new StringBuilder();
        while (true)
        {
            var read = await _agent.Client.ReadPortForwardAsync(new ReadPortForwardRequest { StreamId = opened.StreamId, MaxBytes = 2 });
            if (read.Data.IsEmpty)
            {
                break;
            }
            read.Data.Length.ShouldBeLessThanOrEqualTo(2);
            answer.Append(read.Data.ToStringUtf8());
        }
        answer.ToString().ShouldBe("pong");

        await _agent.Client.ClosePortForwardAsync(new ClosePortForwardRequest { StreamId = opened.StreamId });
        var gone = await Should.ThrowAsync<TtrpcException>(() =>
            _agent.Client.ReadPortForwardAsync(new ReadPortForwardRequest { StreamId = opened.StreamId, MaxBytes = 16 }));
        gone.Code.ShouldBe(StatusCode.NotFound);
    }

    [Fact]
    public async Task A_port_nothing_listens_on_is_refused_with_failed_precondition_naming_both_loopbacks()
    {
        int port;
        using (var closed = Listen())
        {
            port = ((IPEndPoint)closed.LocalEndPoint!).Port;
        }

        var refused = await Should.ThrowAsync<TtrpcException>(() =>
            _agent.Client.OpenPortForwardAsync(new OpenPortForwardRequest { Port = (uint)port }));

        refused.Code.ShouldBe(StatusCode.FailedPrecondition);
        refused.Message.ShouldContain($"127.0.0.1:{port}");
        refused.Message.ShouldContain($"[::1]:{port}");
        (await Should.ThrowAsync<TtrpcException>(() => _agent.Client.OpenPortForwardAsync(new OpenPortForwardRequest { Port = 0 })))
            .Code.ShouldBe(StatusCode.InvalidArgument);
    }

    [Fact]
    public async Task A_read_waiting_for_data_ends_empty_when_the_stream_is_closed_and_destroy_sandbox_closes_every_stream()
    {
        using var server = Listen();
        var port = (uint)((IPEndPoint)server.LocalEndPoint!).Port;
        var first = await _agent.Client.OpenPortForwardAsync(new OpenPortForwardRequest { Port = port });
        var second = await _agent.Client.OpenPortForwardAsync(new OpenPortForwardRequest { Port = port });
        using var a = await server.AcceptAsync().WaitAsync(AgentOverTtrpc.Timeout);
        using var b = await server.AcceptAsync().WaitAsync(AgentOverTtrpc.Timeout);

        var waiting = _agent.Client.ReadPortForwardAsync(new ReadPortForwardRequest { StreamId = first.StreamId, MaxBytes = 16 });
        // The read was sent first on the one connection: once a write sent after it has reached the server, the read
        // is being served (it waits in the socket's receive), and the close below meets it there.
        await _agent.Client.WritePortForwardAsync(new WritePortForwardRequest { StreamId = first.StreamId, Data = ByteString.CopyFromUtf8("w") });
        var marker = new byte[1];
        (await a.ReceiveAsync(marker, SocketFlags.None)).ShouldBe(1);
        await _agent.Client.ClosePortForwardAsync(new ClosePortForwardRequest { StreamId = first.StreamId });
        (await waiting.WaitAsync(AgentOverTtrpc.Timeout)).Data.IsEmpty.ShouldBeTrue();

        await _agent.Client.DestroySandboxAsync(new DestroySandboxRequest());
        (await ReadToEndAsync(b)).ShouldBe("", "the server's connection ended with the sandbox");
        (await Should.ThrowAsync<TtrpcException>(() => _agent.Client.WritePortForwardAsync(new WritePortForwardRequest
        {
            StreamId = second.StreamId, Data = ByteString.CopyFromUtf8("x"),
        }))).Code.ShouldBe(StatusCode.NotFound);
    }

    private static Socket Listen()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.Listen(8);
        return socket;
    }

    private static async Task<string> ReadToEndAsync(Socket socket)
    {
        using var cts = new CancellationTokenSource(AgentOverTtrpc.Timeout);
        var all = new MemoryStream();
        var buffer = new byte[1024];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
        {
            all.Write(buffer, 0, read);
        }
        return Encoding.UTF8.GetString(all.ToArray());
    }
}
