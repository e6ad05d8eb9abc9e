using Cc.Ttrpc;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Containerd.Protocol.Events;

/// <summary>
/// Forwards events to containerd the way its own shim publisher does (protocol.md §3.5.2): one call of the generated
/// <see cref="EventsClient"/> per event, with the namespace in the <c>containerd-namespace-ttrpc</c> metadata key and a
/// 5 s deadline. Retry, ordering and reconnection belong to the caller's queue.
/// </summary>
public sealed class EventForwarder
{
    /// <summary>The metadata key containerd reads the namespace from on every ttrpc call.</summary>
    public const string NamespaceMetadataKey = "containerd-namespace-ttrpc";

    /// <summary>The per-call deadline of the Go publisher.</summary>
    public static readonly TimeSpan ForwardTimeout = TimeSpan.FromSeconds(5);

    private readonly EventsClient _events;
    private readonly string _namespace;

    public EventForwarder(TtrpcClient client, string ns)
    {
        ArgumentException.ThrowIfNullOrEmpty(ns);
        _events = new EventsClient(client);
        _namespace = ns;
    }

    /// <summary>Wraps <paramref name="payload"/> in an Envelope with a bare type URL and forwards it.</summary>
    public Task ForwardAsync(string topic, IMessage payload, DateTimeOffset timestamp, CancellationToken cancellationToken = default) =>
        ForwardAsync(CreateRequest(_namespace, topic, TypeUrls.Pack(payload), timestamp), cancellationToken);

    public async Task ForwardAsync(ForwardRequest request, CancellationToken cancellationToken = default)
    {
        var metadata = new Metadata();
        metadata.Add(NamespaceMetadataKey, _namespace);
        await _events.ForwardAsync(request, new CallOptions(ForwardTimeout, metadata, cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>The request containerd expects: a non-zero timestamp, the namespace, the topic, the event Any.</summary>
    public static ForwardRequest CreateRequest(string ns, string topic, Any @event, DateTimeOffset timestamp) => new()
    {
        Envelope = new Envelope
        {
            Timestamp = Timestamp.FromDateTimeOffset(timestamp),
            Namespace = ns,
            Topic = topic,
            Event = @event,
        },
    };
}
