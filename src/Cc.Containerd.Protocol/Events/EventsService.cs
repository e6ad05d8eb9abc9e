using Cc.Ttrpc;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Containerd.Protocol.Events;

/// <summary>
/// containerd's side of event forwarding (protocol.md §3.5.2). The shim is a client of it; tests implement it to play
/// containerd.
/// </summary>
public interface IEventsService
{
    ValueTask<Empty> ForwardAsync(ForwardRequest request, ServerCallContext context);
}

public static class EventsServiceBinding
{
    public const string ServiceName = "containerd.services.events.ttrpc.v1.Events";

    public static ServiceDefinition Bind(IEventsService impl)
    {
        ArgumentNullException.ThrowIfNull(impl);
        return ServiceDefinition.CreateBuilder(ServiceName)
            .AddUnary<ForwardRequest, Empty>("Forward", ForwardRequest.Parser, impl.ForwardAsync)
            .Build();
    }
}
