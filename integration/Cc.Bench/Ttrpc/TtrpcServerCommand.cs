using Cc.Ttrpc;
using Cc.Ttrpc.Transports;

namespace Cc.Bench.Ttrpc;

/// <summary>
/// <c>Cc.Bench ttrpc-server --address unix:///path [--transport socket-connection]</c>: our ttrpc server with <see cref="EchoService"/>,
/// run by the ttrpc benchmark as a child so that it has a process (and an RSS) of its own, as the Go
/// reference server has. Same contract as the Go peer's server mode: prints "READY &lt;address&gt;" once
/// it accepts, and stops on SIGTERM, Ctrl+C or the end of its standard input.
/// </summary>
public static class TtrpcServerCommand
{
    public static BenchCommand Command { get; } = new("ttrpc-server", "serve cc.test.v1.Echo with our ttrpc server (the bench's child)", RunAsync);

    private static async Task<int> RunAsync(BenchArgs args, CancellationToken cancellationToken)
    {
        var address = args.Get("address") ?? throw new ArgumentException("--address is required");
        var transport = args.Get("transport") switch
        {
            null or "stream" => null,
            "socket-connection" => SocketConnectionTransport.Create,
            var other => throw new ArgumentException($"unknown --transport \"{other}\" (stream or socket-connection)"),
        };
        await using var server = new TtrpcServer(new TtrpcServerOptions { SocketTransport = transport });
        server.Register(new EchoService().Build());

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var serving = server.ServeAsync(address, stop.Token);
        await WaitForSocketAsync(address, serving, cancellationToken).ConfigureAwait(false);
        Console.Out.WriteLine($"READY {address}");
        Console.Out.Flush();

        // Standard input closing means the parent is gone (or done): never outlive it.
        var stdinClosed = Task.Run(() => Console.OpenStandardInput().CopyToAsync(Stream.Null, stop.Token), CancellationToken.None);
        await Task.WhenAny(serving, stdinClosed, Task.Delay(Timeout.Infinite, stop.Token)).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        using var shutdownDeadline = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        await server.ShutdownAsync(shutdownDeadline.Token).ConfigureAwait(false);
        return serving.IsFaulted ? 1 : 0;
    }

    /// <summary>ServeAsync binds inside its task: READY must not be printed before a client can connect,
    /// so probe with a connection (bounded: 10 s).</summary>
    private static async Task WaitForSocketAsync(string address, Task serving, CancellationToken cancellationToken)
    {
        var path = address.StartsWith("unix://", StringComparison.Ordinal) ? address["unix://".Length..] : address;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(10));
        while (true)
        {
            if (serving.IsCompleted)
            {
                await serving.ConfigureAwait(false);
                throw new InvalidOperationException($"the server stopped before accepting on {address}");
            }

            using var probe = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
            try
            {
                await probe.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(path), deadline.Token).ConfigureAwait(false);
                return;
            }
            catch (System.Net.Sockets.SocketException)
            {
                await Task.Delay(10, deadline.Token).ConfigureAwait(false);
            }
        }
    }
}
