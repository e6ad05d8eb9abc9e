using Cc.TestKit;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Ttrpc.Tests;

/// <summary>A server and a client joined by an in-memory duplex pipe, with the test services registered.</summary>
internal sealed class Harness : IAsyncDisposable
{
    public const string Service = "test.v1.Echo";

    private readonly Task _serving;

    private Harness(TtrpcServer server, TtrpcClient client, Task serving, DuplexPipeStream clientEnd)
    {
        Server = server;
        Client = client;
        _serving = serving;
        ClientEnd = clientEnd;
    }

    public TtrpcServer Server { get; }

    public TtrpcClient Client { get; }

    public DuplexPipeStream ClientEnd { get; }

    public Task Serving => _serving;

    public static Harness Start(Action<ServiceDefinition.Builder>? extra = null, TtrpcServerOptions? serverOptions = null,
        TtrpcClientOptions? clientOptions = null)
    {
        var server = new TtrpcServer(serverOptions);
        server.Register(EchoService(extra));
        var (clientEnd, serverEnd) = DuplexPipe.Create();
        Task serving = server.ServeConnectionAsync(serverEnd);
        return new Harness(server, new TtrpcClient(clientEnd, clientOptions), serving, clientEnd);
    }

    /// <summary>Echo, Fail, Sleep and whatever the test adds.</summary>
    public static ServiceDefinition EchoService(Action<ServiceDefinition.Builder>? extra = null)
    {
        var builder = ServiceDefinition.CreateBuilder(Service)
            .AddUnary("Echo", BytesValue.Parser, static (request, _) => ValueTask.FromResult(request))
            .AddUnary("EchoText", StringValue.Parser, static (request, _) => ValueTask.FromResult(request))
            .AddUnary<StringValue, StringValue>("Fail", StringValue.Parser, static (request, _) =>
                throw new InvalidOperationException(request.Value))
            .AddUnary<Duration, Empty>("Sleep", Duration.Parser, static async (request, context) =>
            {
                await Task.Delay(request.ToTimeSpan(), context.CancellationToken);
                return new Empty();
            });
        extra?.Invoke(builder);
        return builder.Build();
    }

    public Task<BytesValue> EchoAsync(byte[] payload, CallOptions options = default) =>
        Client.UnaryAsync(Service, "Echo", new BytesValue { Value = Google.Protobuf.ByteString.CopyFrom(payload) },
            BytesValue.Parser, options);

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync().WithTimeout();
        await Server.DisposeAsync().WithTimeout();
        await _serving.WithTimeout();
    }
}
