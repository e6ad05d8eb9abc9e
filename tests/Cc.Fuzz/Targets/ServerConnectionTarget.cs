using Cc.TestKit;
using Cc.Ttrpc;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Fuzz.Targets;

/// <summary>
/// A whole server connection: the input is everything a client sends before it hangs up. The server must answer or
/// reject what it can and end the connection within <see cref="Bound"/> once the client is gone, without throwing out
/// of <see cref="TtrpcServer.ServeConnectionAsync"/>. One server serves every input, as a daemon serves many clients.
/// </summary>
internal sealed class ServerConnectionTarget : IFuzzTarget
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private static readonly Lazy<TtrpcServer> s_server = new(() =>
    {
        var server = new TtrpcServer();
        server.Register(ServiceDefinition.CreateBuilder(Targets.Seeds.EchoService)
            .AddUnary("Echo", BytesValue.Parser, static (request, _) => ValueTask.FromResult(request))
            .AddUnary("EchoText", StringValue.Parser, static (request, _) => ValueTask.FromResult(request))
            .AddUnary<StringValue, StringValue>("Fail", StringValue.Parser, static (request, _) =>
                throw new InvalidOperationException(request.Value))
            .Build());
        return server;
    });

    public string Name => "server";

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        var echo = Targets.Seeds.Request("Echo", new BytesValue { Value = ByteString.CopyFromUtf8("ping") });
        var fail = Targets.Seeds.Request("Fail", new StringValue { Value = "no" });
        var unknown = Targets.Seeds.Request("Nope", new Empty());
        yield return ("echo", Targets.Seeds.Frame(1, 1, 0, echo));
        yield return ("three-calls", Targets.Seeds.Concat(Targets.Seeds.Frame(1, 1, 0, echo), Targets.Seeds.Frame(3, 1, 0, fail),
            Targets.Seeds.Frame(5, 1, 0, unknown)));
        yield return ("even-stream-id", Targets.Seeds.Frame(2, 1, 0, echo));
        yield return ("data-without-request", Targets.Seeds.Frame(7, 3, 0, [1, 2, 3]));
        yield return ("response-from-client", Targets.Seeds.Frame(9, 2, 0, Targets.Seeds.Response(0, "", null)));
    }

    public void Run(ReadOnlySpan<byte> input) => RunAsync(input.ToArray()).GetAwaiter().GetResult();

    private static async Task RunAsync(byte[] input)
    {
        var (client, serverEnd) = DuplexPipe.Create(pauseWriterThreshold: 64 << 20);
        var serving = s_server.Value.ServeConnectionAsync(serverEnd);
        var draining = client.CopyToAsync(Stream.Null);
        try
        {
            await client.WriteAsync(input).ConfigureAwait(false);
            await client.FlushAsync().ConfigureAwait(false);
            client.CompleteWrites();
            await serving.WaitAsync(Bound).ConfigureAwait(false);
            // The server is done with its end: closing it ends the client's drain of the answers.
            await serverEnd.DisposeAsync().ConfigureAwait(false);
            await draining.WaitAsync(Bound).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new FuzzFindingException($"the server did not end the connection within {Bound.TotalSeconds} s of the client's hang-up");
        }
        finally
        {
            await serverEnd.DisposeAsync().ConfigureAwait(false);
            await client.DisposeAsync().ConfigureAwait(false);
        }
    }

    public bool IsExpected(Exception e) => false;
}
