using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Cc.Hypervisor.Qmp;
using Cc.TestKit;

namespace Cc.Hypervisor.Tests.Qmp;

/// <summary>
/// An in-process stand-in for QEMU's QMP socket: the test plays QEMU's side line by line, so it
/// controls exactly what arrives when (greeting, replies out of order, events between replies, EOF).
/// </summary>
internal sealed class FakeQmpServer : IAsyncDisposable
{
    public const string Greeting =
        """{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7"}, "capabilities": ["oob"]}}""";

    private readonly Socket _listener;
    private readonly string _directory;

    public FakeQmpServer()
    {
        _directory = Directory.CreateTempSubdirectory("cc-qmp-").FullName;
        SocketPath = Path.Combine(_directory, "qmp.sock");
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        _listener.Listen(1);
    }

    public string SocketPath { get; }

    public async Task<FakeQmpPeer> AcceptAsync()
    {
        Socket socket = await _listener.AcceptAsync().WithTimeout();
        return new FakeQmpPeer(socket);
    }

    /// <summary>Connects a client and plays QEMU's side of the handshake.</summary>
    public async Task<(QmpClient Client, FakeQmpPeer Peer)> ConnectClientAsync()
    {
        Task<QmpClient> connect = QmpClient.ConnectAsync(SocketPath, null, CancellationToken.None);
        FakeQmpPeer peer = await AcceptAsync();
        await peer.SendAsync(Greeting);
        JsonElement capabilities = await peer.ReceiveAsync();
        capabilities.GetProperty("execute").GetString().ShouldBe("qmp_capabilities");
        await peer.ReplyAsync(capabilities, "{}");
        return (await connect.WithTimeout(), peer);
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Dispose();
        await Task.Yield();
        Directory.Delete(_directory, recursive: true);
    }
}

internal sealed class FakeQmpPeer : IDisposable
{
    private readonly Socket _socket;
    private readonly StreamReader _reader;
    private readonly NetworkStream _stream;

    public FakeQmpPeer(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = new StreamReader(_stream, Encoding.UTF8);
    }

    /// <summary>Sends one message as QEMU does: the JSON object and "\r\n".</summary>
    public Task SendAsync(string json) => SendRawAsync(json + "\r\n");

    public async Task SendRawAsync(string text) => await _stream.WriteAsync(Encoding.UTF8.GetBytes(text)).AsTask().WithTimeout();

    /// <summary>The next request the client sent.</summary>
    public async Task<JsonElement> ReceiveAsync()
    {
        string? line = await _reader.ReadLineAsync().WithTimeout();
        line.ShouldNotBeNull("the client closed the connection");
        return JsonDocument.Parse(line).RootElement.Clone();
    }

    public Task ReplyAsync(JsonElement request, string returnJson) =>
        SendAsync($$"""{"return": {{returnJson}}, "id": {{request.GetProperty("id").GetRawText()}}}""");

    public Task ReplyErrorAsync(JsonElement request, string errorClass, string description) =>
        SendAsync($$"""{"error": {"class": "{{errorClass}}", "desc": "{{description}}"}, "id": {{request.GetProperty("id").GetRawText()}}}""");

    public Task SendEventAsync(string name, string dataJson) =>
        SendAsync($$"""{"timestamp": {"seconds": 1700000000, "microseconds": 250000}, "event": "{{name}}", "data": {{dataJson}}}""");

    /// <summary>Closes the connection as QEMU does when it exits.</summary>
    public void Close() => _socket.Shutdown(SocketShutdown.Both);

    public void Dispose() => _reader.Dispose();
}
