using System.Diagnostics;
using System.Net.Sockets;
using Cc.TestKit;
using Cc.Ttrpc.Tests.Golden;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Ttrpc.Tests;

public sealed class TransportTests
{
    private static string AbstractName() => $"@cc-ttrpc-test-{Guid.NewGuid():N}";

    private static async Task<T> WithServer<T>(string address, TtrpcServerOptions? options, Func<Task<T>> body,
        Action<ServiceDefinition.Builder>? extra = null)
    {
        var server = new TtrpcServer(options);
        server.Register(Harness.EchoService(extra));
        using var stop = new CancellationTokenSource();
        Task serving = server.ServeAsync(address, stop.Token);
        try
        {
            return await body();
        }
        finally
        {
            stop.Cancel();
            await serving.WithTimeout();
            await server.DisposeAsync().WithTimeout();
        }
    }

    private static async Task<TtrpcClient> ConnectWithRetry(string address)
    {
        var deadline = DateTime.UtcNow + Bounded.Default;
        while (true)
        {
            try
            {
                return await TtrpcClient.ConnectAsync(address).WithTimeout();
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(20); // the listener is not bound yet
            }
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("unix://")]
    public async Task Calls_over_an_abstract_socket_round_trip(string prefix)
    {
        string address = prefix + AbstractName();

        string reply = await WithServer(address, null, async () =>
        {
            await using var client = await ConnectWithRetry(address);
            // Bound in the abstract namespace: the kernel lists it with a leading '@' and no file exists.
            File.ReadAllText("/proc/net/unix").ShouldContain(" @" + address[(prefix.Length + 1)..]);
            File.Exists(address[prefix.Length..]).ShouldBeFalse();
            return (await client.UnaryAsync(Harness.Service, "EchoText", new StringValue { Value = "abstract" }, StringValue.Parser)
                .WithTimeout()).Value;
        });

        reply.ShouldBe("abstract");
    }

    [Fact]
    public async Task RequireSameUser_accepts_a_peer_running_as_us_and_reports_its_credentials()
    {
        string address = AbstractName();
        PeerCredentials? peer = null;

        await WithServer(address, new TtrpcServerOptions { RequireSameUser = true }, async () =>
        {
            await using var client = await ConnectWithRetry(address);
            return await client.UnaryAsync(Harness.Service, "Who", new Empty(), Empty.Parser).WithTimeout();
        }, b => b.AddUnary<Empty, Empty>("Who", Empty.Parser, (_, context) =>
        {
            peer = context.Peer;
            return ValueTask.FromResult(new Empty());
        }));

        peer.ShouldNotBeNull();
        peer.Pid.ShouldBe(Environment.ProcessId);
    }

    [Fact]
    public async Task RequireSameUser_drops_a_peer_running_as_another_user_without_answering()
    {
        if (Environment.UserName != "root" || !File.Exists("/usr/bin/setpriv") || !File.Exists("/usr/bin/socat"))
        {
            return; // needs root to switch users; the accepting path is covered above
        }

        string address = AbstractName();
        var (asRoot, asNobody) = await WithServer(address, new TtrpcServerOptions { RequireSameUser = true }, async () =>
            (await SendGoldenConnectAsync(address, asUser: null), await SendGoldenConnectAsync(address, asUser: 65534)));

        // Same user: the request is answered (Unimplemented: the Task service is not registered here).
        asRoot.Length.ShouldBeGreaterThan(10);
        asNobody.ShouldBeEmpty();
    }

    /// <summary>Sends the golden Connect request from a socat process, optionally as another uid/gid, and returns what came back.</summary>
    private static async Task<byte[]> SendGoldenConnectAsync(string abstractAddress, int? asUser)
    {
        string[] socat = ["/usr/bin/socat", "-t", "1", "-", $"ABSTRACT-CONNECT:{abstractAddress[1..]}"];
        var start = asUser is { } uid
            ? new ProcessStartInfo("/usr/bin/setpriv", [$"--reuid={uid}", $"--regid={uid}", "--clear-groups", .. socat])
            : new ProcessStartInfo(socat[0], socat[1..]);
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        using var process = Process.Start(start)!;
        await process.StandardInput.BaseStream.WriteAsync(GoldenFrames.ConnectRequest);
        await process.StandardInput.BaseStream.FlushAsync();
        // Read until the server closes (socat then exits) or a whole reply frame arrived (then stop socat).
        var read = new MemoryStream();
        var buffer = new byte[4096];
        int n;
        while (read.Length < 10 + 2 && (n = await process.StandardOutput.BaseStream.ReadAsync(buffer).AsTask().WithTimeout()) > 0)
        {
            read.Write(buffer, 0, n);
        }

        if (!process.HasExited)
        {
            process.Kill();
        }

        await process.WaitForExitAsync().WithTimeout();
        return read.ToArray();
    }

    [Fact]
    public async Task A_unix_socket_path_is_removed_when_serving_stops()
    {
        string path = Path.Combine(Path.GetTempPath(), $"cc-ttrpc-{Guid.NewGuid():N}.sock");

        bool existed = await WithServer(path, null, async () =>
        {
            await using var client = await ConnectWithRetry("unix://" + path);
            await client.UnaryAsync(Harness.Service, "Echo", new BytesValue(), BytesValue.Parser).WithTimeout();
            return File.Exists(path);
        });

        existed.ShouldBeTrue();
        File.Exists(path).ShouldBeFalse();
    }

    [Fact]
    public async Task ServeAsync_accepts_on_a_listener_the_caller_already_bound()
    {
        string path = Path.Combine(Path.GetTempPath(), $"cc-ttrpc-{Guid.NewGuid():N}.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        await using var server = new TtrpcServer();
        server.Register(Harness.EchoService());
        using var stop = new CancellationTokenSource();
        Task serving = server.ServeAsync(listener, stop.Token);

        await using (var client = await TtrpcClient.ConnectAsync(path).WithTimeout())
        {
            (await client.UnaryAsync(Harness.Service, "EchoText", new StringValue { Value = "fd" }, StringValue.Parser)
                .WithTimeout()).Value.ShouldBe("fd");
        }

        stop.Cancel();
        await serving.WithTimeout();
        File.Delete(path);
    }

    [Theory]
    [InlineData("unix:///run/x.sock", "/run/x.sock")]
    [InlineData("/run/x.sock", "/run/x.sock")]
    public void Unix_addresses_parse_to_filesystem_endpoints(string address, string path)
    {
        var endPoint = TtrpcAddress.Parse(address).ShouldBeOfType<UnixDomainSocketEndPoint>();

        endPoint.ToString().ShouldBe(path);
        TtrpcAddress.FilePath(endPoint).ShouldBe(path);
    }

    [Theory]
    [InlineData("@shim")]
    [InlineData("unix://@shim")]
    public void Abstract_addresses_parse_to_a_name_starting_with_NUL(string address)
    {
        var endPoint = TtrpcAddress.Parse(address).ShouldBeOfType<UnixDomainSocketEndPoint>();

        endPoint.ToString().ShouldBe("@shim"); // .NET shows the leading NUL of an abstract name as '@'
        TtrpcAddress.FilePath(endPoint).ShouldBeNull();
    }

    [Fact]
    public void A_vsock_address_serializes_as_sockaddr_vm()
    {
        var endPoint = TtrpcAddress.Parse("vsock://3:1024").ShouldBeOfType<VsockEndPoint>();

        endPoint.Cid.ShouldBe(3u);
        endPoint.Port.ShouldBe(1024u);
        var address = endPoint.Serialize();
        address.Size.ShouldBe(16);
        Hex.Format(address.Buffer.Span).ShouldBe("2800" + "0000" + "00040000" + "03000000" + "00000000");
        endPoint.Create(address).ShouldBe(endPoint);
    }

    [Theory]
    [InlineData("tcp://127.0.0.1:80")]
    [InlineData("relative.sock")]
    [InlineData("vsock://3")]
    [InlineData("vsock://x:1")]
    [InlineData("")]
    public void Other_addresses_are_an_ArgumentException_naming_the_address(string address)
    {
        var error = Should.Throw<ArgumentException>(() => TtrpcAddress.Parse(address));

        error.Message.ShouldContain($"\"{address}\"");
    }

    [Fact]
    public async Task Connecting_to_vsock_without_a_vsock_transport_fails_with_a_clear_error()
    {
        var error = await Should.ThrowAsync<Exception>(TtrpcClient.ConnectAsync("vsock://2:1").WithTimeout());

        error.ShouldBeAssignableTo<Exception>();
        (error is NotSupportedException or SocketException).ShouldBeTrue(error.ToString());
    }
}
