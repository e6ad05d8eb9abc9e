using System.Collections.Concurrent;
using Cc.Containerd.Protocol.Events;
using Cc.Ttrpc;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Shim.Tests.Fakes;

/// <summary>containerd's ttrpc Events service as a test peer: records each forwarded envelope and its namespace key.</summary>
public sealed class FakeContainerdEvents : IEventsService
{
    public ConcurrentQueue<(Envelope Envelope, string? NamespaceKey)> Received { get; } = new();

    public IReadOnlyList<string> Topics => Received.Select(r => r.Envelope.Topic).ToList();

    public int FailNext;

    public ValueTask<Empty> ForwardAsync(ForwardRequest request, ServerCallContext context)
    {
        if (Interlocked.Decrement(ref FailNext) >= 0)
        {
            throw new TtrpcException(StatusCode.Unavailable, "containerd is restarting");
        }
        Received.Enqueue((request.Envelope, context.RequestMetadata.Get(EventForwarder.NamespaceMetadataKey)));
        return ValueTask.FromResult(new Empty());
    }
}
