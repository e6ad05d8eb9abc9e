namespace Cc.Shim.Network;

/// <summary>
/// The guest's end of one forwarded connection: a TCP connection the agent made to a port of the pod's network in the
/// VM (the agent's port-forward calls, docs/agent-api.md). One reader and one writer at a time.
/// </summary>
public interface IGuestConnection : IAsyncDisposable
{
    /// <summary>Bytes the guest's side sent, at most <paramref name="buffer"/>'s length; 0 once it sent end of stream.</summary>
    Task<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Writes all of <paramref name="data"/> to the guest's side.</summary>
    Task WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>Half-close: the guest's side reads end of stream; its answer can still be read.</summary>
    Task CloseWriteAsync(CancellationToken cancellationToken);
}

/// <summary>Opens a connection to <c>port</c> in the guest; throws when the guest refuses it (nothing listens there).</summary>
public delegate Task<IGuestConnection> GuestDialer(int port, CancellationToken cancellationToken);
