using System.Net.Sockets;
using Cc.Containerd.Protocol.Events;
using Cc.Containerd.Protocol.Tasks;
using Cc.Shim.Cli;
using Cc.Shim.Configuration;
using Cc.Shim.Events;
using Cc.Shim.Lifetime;
using Cc.TestKit;
using Cc.Ttrpc;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Shim.Tests.Fakes;

/// <summary>
/// A whole shim daemon in-process, as containerd sees it: <see cref="ShimDaemon.RunAsync"/> serving a real unix socket,
/// a ttrpc <see cref="TaskClient"/> connected to it, and a fake containerd Events service it forwards to — with the VM
/// and agent replaced by <see cref="FakeEngine"/>.
/// </summary>
public sealed class ShimHarness : IAsyncDisposable
{
    private readonly TtrpcServer _eventsServer;
    private readonly Task _eventsServing;
    private readonly TtrpcClient _client;

    private ShimHarness(string root, FakeEngine engine, FakeContainerdEvents events, TtrpcServer eventsServer, Task eventsServing,
        TtrpcClient client, ShimLifetime lifetime, Task<int> daemon)
    {
        Root = root;
        Fake = engine;
        Containerd = events;
        _eventsServer = eventsServer;
        _eventsServing = eventsServing;
        _client = client;
        Lifetime = lifetime;
        Daemon = daemon;
        Tasks = new TaskClient(client);
    }

    public string Root { get; }
    public FakeEngine Fake { get; }
    public FakeContainerdEvents Containerd { get; }
    public TaskClient Tasks { get; }
    public ShimLifetime Lifetime { get; }
    public Task<int> Daemon { get; }
    public string SocketPath => Path.Combine(Root, "shim.sock");

    public static async Task<ShimHarness> StartAsync(string ns = "k8s.io")
    {
        var root = Directory.CreateTempSubdirectory("cc-shim-test-").FullName;
        var events = new FakeContainerdEvents();
        var eventsServer = new TtrpcServer();
        eventsServer.Register(EventsServiceBinding.Bind(events));
        var eventsSocket = Path.Combine(root, "containerd.sock.ttrpc");
        var eventsServing = eventsServer.ServeAsync("unix://" + eventsSocket);
        await Bounded.UntilAsync(() => File.Exists(eventsSocket), "the fake containerd listens");

        var engine = new FakeEngine();
        var bundle = NewBundle(root, "sandbox1");
        var socketPath = Path.Combine(root, "shim.sock");
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        listener.Listen(16);
        BundleFiles.WriteAtomically(bundle, BundleFiles.Address, "unix://" + socketPath);

        var lifetime = new ShimLifetime();
        var configuration = new ShimConfiguration { Runtime = { RunDir = Path.Combine(root, "run"), ShutdownTimeoutSeconds = 2 } };
        var args = new ShimArguments { Namespace = ns, Id = "sandbox1", Address = "/run/containerd/containerd.sock" };
        var sink = new TtrpcEventSink("unix://" + eventsSocket, ns, NullLoggerFactory.Instance);
        var daemon = ShimDaemon.RunAsync(args, bundle, listener, new DaemonEngines(engine, engine, sink, null), configuration,
            new ConfigurationHolder([]), NullLoggerFactory.Instance, lifetime);
        var client = await TtrpcClient.ConnectAsync("unix://" + socketPath).WithTimeout();
        return new ShimHarness(root, engine, events, eventsServer, eventsServing, client, lifetime, daemon);
    }

    public FakeVm Vm => Fake.Vm ?? throw new InvalidOperationException("no VM launched yet");

    /// <summary>A bundle directory with a config.json carrying <paramref name="annotations"/>.</summary>
    public static string NewBundle(string root, string id, string annotations = "{}")
    {
        var bundle = Path.Combine(root, "bundles", id);
        Directory.CreateDirectory(Path.Combine(bundle, "rootfs"));
        File.WriteAllText(Path.Combine(bundle, "config.json"), $$"""{"ociVersion":"1.1.0","annotations":{{annotations}}}""");
        return bundle;
    }

    public string Bundle(string id) => NewBundle(Root, id);

    public Task<CreateTaskResponse> CreateAsync(string id, string stdout = "") =>
        Tasks.CreateAsync(new CreateTaskRequest { Id = id, Bundle = Bundle(id), Stdout = stdout }).WithTimeout();

    /// <summary>Waits until containerd has received <paramref name="count"/> events.</summary>
    public Task EventsArrivedAsync(int count) =>
        Bounded.UntilAsync(() => Containerd.Received.Count >= count, $"{count} events reached containerd");

    public async ValueTask DisposeAsync()
    {
        Lifetime.RequestStop("test finished");
        try
        {
            await Daemon.WithTimeout(TimeSpan.FromSeconds(20));
        }
        finally
        {
            await _client.DisposeAsync();
            await _eventsServer.DisposeAsync();
            try
            {
                await _eventsServing.WithTimeout();
            }
            catch (Exception)
            {
                // The serve loop ends with the server's disposal; how it ends is not under test here.
            }
            Lifetime.Dispose();
            Directory.Delete(Root, recursive: true);
        }
    }
}
