using Cc.Bench.Ttrpc;
using Cc.Ttrpc;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Integration.Ttrpc;

/// <summary>The Go reference server of each ttrpc version, started once for a test class.</summary>
public sealed class GoServersFixture : IAsyncLifetime
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cc-ttrpc-go-");
    private readonly Dictionary<string, PeerProcess> _servers = [];

    public string Address(string version) => $"unix://{_dir.FullName}/peer-{version}.sock";

    public async Task InitializeAsync()
    {
        foreach (var version in (string[])[GoPeer.V11, GoPeer.V12])
        {
            _servers[version] = await GoPeer.StartServerAsync(version, Address(version)).ConfigureAwait(false);
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var server in _servers.Values)
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }

        _dir.Delete(recursive: true);
    }
}

/// <summary>Our server with <see cref="EchoService"/>, in this process, for the Go clients of a test class.</summary>
public sealed class CSharpServerFixture : IAsyncLifetime
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("cc-ttrpc-cs-");
    private readonly CancellationTokenSource _stop = new();
    private readonly TtrpcServer _server = new();
    private Task _serving = Task.CompletedTask;

    public EchoService Service { get; } = new();

    public string Address => $"unix://{_dir.FullName}/ours.sock";

    public async Task InitializeAsync()
    {
        _server.Register(Service.Build());
        _serving = _server.ServeAsync(Address, _stop.Token);

        // Ready when a client gets an answer (bounded).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            _serving.IsFaulted.ShouldBeFalse(_serving.Exception?.ToString());
            try
            {
                await using var client = await TtrpcClient.ConnectAsync(Address).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                await client.UnaryAsync<BytesValue, BytesValue>(EchoService.Name, "Echo", new BytesValue(), BytesValue.Parser)
                    .WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or TtrpcException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20).ConfigureAwait(false);
            }
        }
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _server.DisposeAsync().ConfigureAwait(false);
        await _serving.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
        _stop.Dispose();
        _dir.Delete(recursive: true);
    }
}

/// <summary>Small helpers shared by the interop tests.</summary>
internal static class Interop
{
    /// <summary>The bound of every cross-process await in these tests.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    public static BytesValue Bytes(string text) => EchoService.Text(text);

    public static BytesValue Bytes(byte[] bytes) => new() { Value = ByteString.CopyFrom(bytes) };

    public static Task<BytesValue> CallAsync(this TtrpcClient client, string method, BytesValue request, CallOptions options = default) =>
        client.UnaryAsync<BytesValue, BytesValue>(EchoService.Name, method, request, BytesValue.Parser, options).WaitAsync(Timeout);

    public static Task<BytesValue> CallAsync(this TtrpcClient client, string method, string text, CallOptions options = default) =>
        client.CallAsync(method, Bytes(text), options);

    public static Task<TtrpcClient> ConnectAsync(string address, TtrpcClientOptions? options = null) =>
        TtrpcClient.ConnectAsync(address, options).WaitAsync(Timeout);

    /// <summary>Polls <paramref name="read"/> until it satisfies <paramref name="done"/> or the bound passes.</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan? bound = null)
    {
        var deadline = DateTime.UtcNow + (bound ?? TimeSpan.FromSeconds(5));
        while (true)
        {
            var value = await read().ConfigureAwait(false);
            if (done(value) || DateTime.UtcNow >= deadline)
            {
                return value;
            }

            await Task.Delay(25).ConfigureAwait(false);
        }
    }
}
