using Cc.Ttrpc;
using Cc.Ttrpc.Transports;

namespace Cc.Bench.Ttrpc;

/// <summary>
/// Serves <see cref="EchoService"/> on one address with our <see cref="TtrpcServer"/> until told to stop, with the Go
/// peer's server-mode contract: prints "READY &lt;address&gt;" once a client can connect, and stops on cancellation
/// (SIGTERM, Ctrl+C) or the end of its standard input (the parent is gone or done: never outlive it). Shared by
/// <c>Cc.Bench ttrpc-server</c> and the dedicated peer executable (integration/Cc.TtrpcPeer), which links this file.
/// </summary>
public static class EchoServerHost
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(1);

    /// <summary>Returns the process's exit code: 0 after a clean stop, 1 when the server failed.</summary>
    public static async Task<int> RunAsync(string address, SocketTransportFactory? transport, CancellationToken cancellationToken)
    {
        await using var server = new TtrpcServer(new TtrpcServerOptions { SocketTransport = transport });
        server.Register(new EchoService().Build());

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var serving = server.ServeAsync(address, stop.Token);
        await WaitForSocketAsync(address, serving, cancellationToken).ConfigureAwait(false);
        Console.Out.WriteLine($"READY {address}");
        Console.Out.Flush();

        var stdinClosed = Task.Run(() => Console.OpenStandardInput().CopyToAsync(Stream.Null, stop.Token), CancellationToken.None);
        await Task.WhenAny(serving, stdinClosed, Task.Delay(Timeout.Infinite, stop.Token)).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        using var shutdownDeadline = new CancellationTokenSource(ShutdownTimeout);
        await server.ShutdownAsync(shutdownDeadline.Token).ConfigureAwait(false);
        return serving.IsFaulted ? 1 : 0;
    }

    /// <summary>ServeAsync binds inside its task: READY must not be printed before a client can connect,
    /// so probe with a connection (bounded by <see cref="ReadyTimeout"/>).</summary>
    private static async Task WaitForSocketAsync(string address, Task serving, CancellationToken cancellationToken)
    {
        var path = address.StartsWith("unix://", StringComparison.Ordinal) ? address["unix://".Length..] : address;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(ReadyTimeout);
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
