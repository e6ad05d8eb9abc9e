using System.Text;
using Cc.Agent.Containers;
using Cc.Agent.Guest;
using Cc.Agent.Protocol;
using Cc.Agent.Protocol.V1;
using Cc.Agent.Service;
using Cc.Ttrpc;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Agent.Tests.Fixtures;

// The agent service served in-process on a unix socket, and a client connected through
// AgentConnector: every call crosses the real ttrpc wire.
public sealed class AgentOverTtrpc : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly TtrpcServer _server;
    private readonly CancellationTokenSource _stop;
    private readonly Task _serving;

    private AgentOverTtrpc(BusyboxBundle world, ContainerManager manager, TtrpcServer server, CancellationTokenSource stop,
        Task serving, AgentClient client)
    {
        World = world;
        Manager = manager;
        _server = server;
        _stop = stop;
        _serving = serving;
        Client = client;
    }

    public BusyboxBundle World { get; }
    public ContainerManager Manager { get; }
    public AgentClient Client { get; }

    // loggers: the container manager's (its debug lines are what some tests read); none by default.
    public static async Task<AgentOverTtrpc> StartAsync(ILoggerFactory? loggers = null)
    {
        var world = new BusyboxBundle();
        var manager = new ContainerManager(world.Options, loggers ?? NullLoggerFactory.Instance);
        var guest = new GuestSystem(NullLoggerFactory.Instance.CreateLogger("guest"));
        guest.MarkReady();
        var service = new AgentService(manager, guest, world.Options, NullLoggerFactory.Instance);
        var server = new TtrpcServer();
        server.Register(AgentServiceBinding.Bind(service));
        var address = "unix://" + Path.Combine(world.Root, "agent.sock");
        var stop = new CancellationTokenSource();
        var serving = server.ServeAsync(address, stop.Token);
        var client = await AgentConnector.ConnectAsync(address, Timeout);
        return new AgentOverTtrpc(world, manager, server, stop, serving, client);
    }

    public Task<CreateContainerResponse> CreateAsync(string id, byte[] spec, bool terminal = false, bool stdin = false) =>
        Client.CreateContainerAsync(new CreateContainerRequest
        {
            ContainerId = id,
            OciSpecJson = ByteString.CopyFrom(spec),
            RootfsPath = World.Rootfs,
            Stdio = new StdioOptions { Terminal = terminal, Stdin = stdin },
        }).WaitAsync(Timeout);

    public async Task<int> RunAsync(string id, byte[] spec, bool terminal = false, bool stdin = false)
    {
        var created = await CreateAsync(id, spec, terminal, stdin);
        await Client.StartContainerAsync(new StartContainerRequest { ContainerId = id }).WaitAsync(Timeout);
        return created.Pid;
    }

    public Task<ExecProcessResponse> ExecAsync(string id, string execId, bool terminal, bool stdin, params string[] args) =>
        Client.ExecProcessAsync(new ExecProcessRequest
        {
            ContainerId = id,
            ExecId = execId,
            OciProcessJson = ByteString.CopyFromUtf8(BusyboxBundle.Process(args).ToJsonString()),
            Stdio = new StdioOptions { Terminal = terminal, Stdin = stdin },
        }).WaitAsync(Timeout);

    public Task<WaitProcessResponse> WaitAsync(string id, string execId = "") =>
        Client.WaitProcessAsync(new WaitProcessRequest { ContainerId = id, ExecId = execId }).WaitAsync(Timeout);

    public Task SignalAsync(string id, int signal, string execId = "", bool all = false) =>
        Client.SignalProcessAsync(new SignalProcessRequest { ContainerId = id, ExecId = execId, Signal = signal, All = all })
            .WaitAsync(Timeout);

    public Task WriteAsync(string id, string text, string execId = "") =>
        Client.WriteStdinAsync(new WriteStdinRequest { ContainerId = id, ExecId = execId, Data = ByteString.CopyFromUtf8(text) })
            .WaitAsync(Timeout);

    public Task CloseStdinAsync(string id, string execId = "") =>
        Client.CloseStdinAsync(new CloseStdinRequest { ContainerId = id, ExecId = execId }).WaitAsync(Timeout);

    // Reads a stream to its end (an empty reply), in reads of at most `chunk` bytes.
    public async Task<byte[]> ReadToEndAsync(string id, string execId = "", bool stderr = false, uint chunk = 32 * 1024,
        Action<long>? progress = null)
    {
        using var all = new MemoryStream();
        while (true)
        {
            var request = new ReadStreamRequest { ContainerId = id, ExecId = execId, MaxBytes = chunk };
            var response = await (stderr ? Client.ReadStderrAsync(request) : Client.ReadStdoutAsync(request)).WaitAsync(Timeout);
            if (response.Data.IsEmpty)
            {
                return all.ToArray();
            }

            response.Data.Length.ShouldBeLessThanOrEqualTo((int)chunk);
            response.Data.WriteTo(all);
            progress?.Invoke(all.Length);
        }
    }

    public async Task<string> ReadTextToEndAsync(string id, string execId = "", bool stderr = false) =>
        Encoding.UTF8.GetString(await ReadToEndAsync(id, execId, stderr));

    public async ValueTask DisposeAsync()
    {
        await Manager.RemoveAllAsync(CancellationToken.None).WaitAsync(Timeout);
        await Client.Connection.DisposeAsync();
        await _stop.CancelAsync();
        await _server.DisposeAsync();
        try
        {
            await _serving.WaitAsync(Timeout);
        }
        catch (OperationCanceledException)
        {
            // the accept loop ends with the cancellation
        }

        World.Dispose();
    }
}
