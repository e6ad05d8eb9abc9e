using Cc.Shim.Network;
using Google.Protobuf;
using V1 = Cc.Agent.Protocol.V1;

namespace Cc.Shim.Sandbox;

/// <summary>
/// One port forward's guest end over the agent's port-forward calls (docs/agent-api.md, "Port forwarding"): reads and
/// writes are long-polls (a guest application that does not read holds a write as long as a runc pod's would), the
/// open, half-close and close carry the Other deadline.
/// </summary>
public sealed class AgentPortConnection : IGuestConnection
{
    private readonly AgentGuest _agent;
    private readonly ulong _streamId;
    private int _closed;

    private AgentPortConnection(AgentGuest agent, ulong streamId)
    {
        _agent = agent;
        _streamId = streamId;
    }

    /// <summary>Connects to <paramref name="port"/> on the guest's loopback; the agent's refusal is a TtrpcException.</summary>
    public static async Task<IGuestConnection> OpenAsync(AgentGuest agent, int port, CancellationToken cancellationToken)
    {
        var opened = await agent.CallAsync(AgentCallKind.Other, (client, options) =>
            client.OpenPortForwardAsync(new V1.OpenPortForwardRequest { Port = (uint)port }, options), cancellationToken).ConfigureAwait(false);
        return new AgentPortConnection(agent, opened.StreamId);
    }

    public async Task<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var response = await _agent.CallAsync(AgentCallKind.LongPoll, (client, options) => client.ReadPortForwardAsync(
            new V1.ReadPortForwardRequest { StreamId = _streamId, MaxBytes = (uint)buffer.Length }, options), cancellationToken)
            .ConfigureAwait(false);
        response.Data.Span.CopyTo(buffer.Span);
        return response.Data.Length;
    }

    public Task WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        _agent.CallAsync(AgentCallKind.LongPoll, (client, options) => client.WritePortForwardAsync(
            new V1.WritePortForwardRequest { StreamId = _streamId, Data = ByteString.CopyFrom(data.Span) }, options), cancellationToken);

    public Task CloseWriteAsync(CancellationToken cancellationToken) =>
        _agent.CallAsync(AgentCallKind.Other, (client, options) => client.ClosePortForwardAsync(
            new V1.ClosePortForwardRequest { StreamId = _streamId, WriteOnly = true }, options), cancellationToken);

    /// <summary>Closes and forgets the guest's connection; once.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            await _agent.CallAsync(AgentCallKind.Other, (client, options) => client.ClosePortForwardAsync(
                new V1.ClosePortForwardRequest { StreamId = _streamId }, options), CancellationToken.None).ConfigureAwait(false);
        }
    }
}
