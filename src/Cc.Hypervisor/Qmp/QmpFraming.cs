namespace Cc.Hypervisor.Qmp;

/// <summary>
/// QMP framing: every message, in both directions, is one JSON object. QEMU ends each object it sends
/// with "\r\n" and JSON escapes newlines inside strings, so a raw '\n' byte can only be a message
/// boundary. Parsing is pure: it looks at the bytes buffered so far and never reads.
/// </summary>
internal static class QmpFraming
{
    /// <summary>The largest message we accept. query-* replies on a small VM are a few KiB; anything
    /// bigger than this is a broken peer, and we refuse it before buffering more.</summary>
    public const int MaxMessageBytes = 8 * 1024 * 1024;

    /// <summary>
    /// Finds the first complete message in <paramref name="buffered"/>. Returns false when it needs more
    /// bytes. <paramref name="consumed"/> counts the message and its terminator; blank lines are
    /// consumed and skipped. Throws <see cref="QmpProtocolException"/> once an unterminated message
    /// passes <see cref="MaxMessageBytes"/>.
    /// </summary>
    public static bool TryReadMessage(ReadOnlySpan<byte> buffered, out int consumed, out ReadOnlySpan<byte> message)
    {
        consumed = 0;
        while (true)
        {
            ReadOnlySpan<byte> rest = buffered[consumed..];
            int newline = rest.IndexOf((byte)'\n');
            if (newline < 0)
            {
                if (rest.Length > MaxMessageBytes)
                {
                    throw new QmpProtocolException($"QMP message exceeds {MaxMessageBytes} bytes without a line end");
                }
                message = default;
                return false;
            }
            if (newline > MaxMessageBytes)
            {
                throw new QmpProtocolException($"QMP message of {newline} bytes exceeds the limit of {MaxMessageBytes}");
            }
            ReadOnlySpan<byte> line = rest[..newline].TrimEnd((byte)'\r').Trim((byte)' ');
            consumed += newline + 1;
            if (!line.IsEmpty)
            {
                message = line;
                return true;
            }
        }
    }
}
