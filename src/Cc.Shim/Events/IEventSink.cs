using Google.Protobuf.WellKnownTypes;

namespace Cc.Shim.Events;

/// <summary>One way of delivering an event to containerd. Throws when this attempt failed.</summary>
public interface IEventSink : IAsyncDisposable
{
    Task SendAsync(string topic, Any @event, DateTimeOffset timestamp, CancellationToken cancellationToken);
}
