using Cc.Ttrpc;

namespace Cc.Agent.Protocol.V1;

// ReadStdout/ReadStderr answers carry up to 1 MiB of a container's output. Their only field, `data`, is the trailing one:
// the agent's server writes it to the port from the output pump's buffer instead of copying it into the frame (under
// TCG that copy is emulated guest work for every byte). The prefix is empty, so the wire bytes are exactly WriteTo's.
public sealed partial class ReadStreamResponse : ITrailingBytesMessage
{
    int ITrailingBytesMessage.TrailingFieldNumber => DataFieldNumber;

    // A message carrying unknown fields (never one the agent builds) offers no tail: the server then copies it whole.
    ReadOnlyMemory<byte> ITrailingBytesMessage.TrailingBytes => _unknownFields is null ? Data.Memory : ReadOnlyMemory<byte>.Empty;

    /// <summary>Called once the answer's data has been written to the transport (never, when it was not sent that
    /// way): whoever lent the memory may reuse it. Not part of the message.</summary>
    public Action? DataWritten { get; set; }

    void ITrailingBytesMessage.OnTrailingBytesWritten() => DataWritten?.Invoke();

    int ITrailingBytesMessage.CalculatePrefixSize() => 0;

    void ITrailingBytesMessage.WritePrefix(Span<byte> destination)
    {
    }
}
