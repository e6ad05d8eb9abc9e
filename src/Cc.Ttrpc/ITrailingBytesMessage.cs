using Google.Protobuf;

namespace Cc.Ttrpc;

/// <summary>
/// A response message whose encoding ends with one length-delimited field (<c>bytes</c>) that the server may send
/// from the message's own memory instead of copying it into the frame: the frame's header, the envelope and
/// <see cref="WritePrefix"/> go into the connection's send buffer, and <see cref="TrailingBytes"/> is written to the
/// transport right after them, in order with every other frame (a gathered write). Under TCG a copy of a megabyte is
/// a megabyte of emulated guest work, so the agent's ReadStdout answers carry their payload this way.
/// </summary>
/// <remarks>
/// The bytes on the wire are the message's encoding with the trailing field last: the prefix (every other field, as
/// <see cref="IMessage.WriteTo(Span{byte})"/> would write them), then the field's tag, its length as a varint and
/// <see cref="TrailingBytes"/>. Protobuf parsers accept fields in any order, and with the trailing field the highest
/// numbered (or the only one) the bytes are exactly <see cref="IMessage.WriteTo(Span{byte})"/>'s. The memory behind
/// <see cref="TrailingBytes"/> must not change until the frame is written (no longer than the connection lives).
/// </remarks>
public interface ITrailingBytesMessage : IMessage
{
    /// <summary>The field's number (wire type 2, length-delimited).</summary>
    int TrailingFieldNumber { get; }

    /// <summary>The field's content; sent without a copy when it is large (see ServerConnection).</summary>
    ReadOnlyMemory<byte> TrailingBytes { get; }

    /// <summary>
    /// Called by the connection's send loop once <see cref="TrailingBytes"/> has been written to the transport, so the
    /// memory may be reused; must be quick and must not throw. Not called when the bytes were copied into the frame (a
    /// small field) or never written (the connection closed first).
    /// </summary>
    void OnTrailingBytesWritten();

    /// <summary>Length of the encoding of every other field.</summary>
    int CalculatePrefixSize();

    /// <summary>Writes every other field, exactly <see cref="CalculatePrefixSize"/> bytes.</summary>
    void WritePrefix(Span<byte> destination);
}
