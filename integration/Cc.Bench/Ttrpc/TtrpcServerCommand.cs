using Cc.Ttrpc.Transports;

namespace Cc.Bench.Ttrpc;

/// <summary>
/// <c>Cc.Bench ttrpc-server --address unix:///path [--transport socket-connection]</c>: our ttrpc server with <see cref="EchoService"/>
/// inside the whole bench executable (<see cref="EchoServerHost"/>), run by the ttrpc benchmark as a child so that it has a
/// process (and an RSS) of its own. The "ours" server column is the dedicated peer (integration/Cc.TtrpcPeer, the same
/// host and service with Cc.Ttrpc only); this command serves the SocketConnection transport, which only the bench links,
/// and the --baseline-server of a Cc.Bench built from an earlier commit.
/// </summary>
public static class TtrpcServerCommand
{
    public static BenchCommand Command { get; } = new("ttrpc-server", "serve cc.test.v1.Echo with our ttrpc server (the bench's child)", RunAsync);

    private static Task<int> RunAsync(BenchArgs args, CancellationToken cancellationToken)
    {
        var address = args.Get("address") ?? throw new ArgumentException("--address is required");
        SocketTransportFactory? transport = args.Get("transport") switch
        {
            null or "stream" => null,
            "socket-connection" => SocketConnectionTransport.Create,
            var other => throw new ArgumentException($"unknown --transport \"{other}\" (stream or socket-connection)"),
        };
        return EchoServerHost.RunAsync(address, transport, cancellationToken);
    }
}
