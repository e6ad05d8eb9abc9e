using System.Buffers;
using Cc.Ttrpc.Framing;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Fuzz.Targets;

/// <summary>
/// The request envelope reader (what a server does with every Request frame's data): malformed input may only be a
/// <see cref="FormatException"/>, and what it returns lies inside the input.
/// </summary>
internal sealed class RequestEnvelopeTarget : IFuzzTarget
{
    public string Name => "request";

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        yield return ("echo", Targets.Seeds.Request("Echo", new BytesValue { Value = ByteString.CopyFromUtf8("hello") }));
        yield return ("deadline-metadata", Targets.Seeds.Request("EchoText", new StringValue { Value = "x" }, 5_000_000_000,
            ("containerd-namespace-ttrpc", "k8s.io"), ("traceparent", "00-abc")));
        yield return ("empty", []);
    }

    public void Run(ReadOnlySpan<byte> input)
    {
        var request = EnvelopeReader.ReadRequest(new ReadOnlySequence<byte>(input.ToArray()));
        if (request.Service.Length + request.Method.Length + request.Payload.Length > input.Length)
        {
            throw new FuzzFindingException("the envelope's parts are larger than its bytes");
        }
    }

    public bool IsExpected(Exception e) => e is FormatException;
}

/// <summary>The response envelope reader and the status inside it (what a client does with every Response frame).</summary>
internal sealed class ResponseEnvelopeTarget : IFuzzTarget
{
    public string Name => "response";

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        yield return ("ok", Targets.Seeds.Response(0, "", new StringValue { Value = "pong" }));
        yield return ("not-found", Targets.Seeds.Response(5, "container c1: not found", null));
    }

    public void Run(ReadOnlySpan<byte> input)
    {
        var response = EnvelopeReader.ReadResponse(new ReadOnlySequence<byte>(input.ToArray()));
        if (!response.Status.IsEmpty)
        {
            _ = Google.Rpc.Status.Parser.ParseFrom(response.Status);
        }
    }

    public bool IsExpected(Exception e) => e is FormatException or InvalidProtocolBufferException;
}
