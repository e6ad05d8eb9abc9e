using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Google.Protobuf;

namespace Cc.Ttrpc.Client;

internal sealed class ClientStreamWriter<T>(StreamCall call) : IClientStreamWriter<T>
    where T : IMessage<T>
{
    public ValueTask WriteAsync(T message, CancellationToken cancellationToken = default) =>
        call.SendAsync(message, cancellationToken);

    public ValueTask CompleteAsync()
    {
        call.CompleteSend();
        return ValueTask.CompletedTask;
    }
}

internal sealed class ClientStreamReader<T>(StreamCall call, MessageParser<T> parser) : IAsyncStreamReader<T>
    where T : IMessage<T>
{
    public async IAsyncEnumerable<T> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ChannelReader<ByteString> messages = call.Messages;
        while (await messages.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (messages.TryRead(out ByteString? payload))
            {
                yield return Parse(parser, payload);
            }
        }
    }

    internal static async Task<T> ReadFinalAsync(StreamCall call, MessageParser<T> parser)
    {
        Wire.Response? response = await call.Final.ConfigureAwait(false);
        return Parse(parser, response?.Payload ?? ByteString.Empty);
    }

    private static T Parse(MessageParser<T> parser, ByteString payload)
    {
        try
        {
            return parser.ParseFrom(payload);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new TtrpcException(StatusCode.Internal, $"ttrpc: failed to unmarshal response: {ex.Message}", ex);
        }
    }
}
