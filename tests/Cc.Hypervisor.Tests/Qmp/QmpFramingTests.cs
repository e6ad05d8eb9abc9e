using System.Text;
using Cc.Hypervisor.Qmp;

namespace Cc.Hypervisor.Tests.Qmp;

public sealed class QmpFramingTests
{
    [Fact]
    public void A_message_without_its_line_end_needs_more_bytes()
    {
        QmpFraming.TryReadMessage("{\"return\": {}"u8, out int consumed, out _).ShouldBeFalse();
        consumed.ShouldBe(0);
    }

    [Fact]
    public void A_CRLF_terminated_message_is_returned_without_its_terminator_and_fully_consumed()
    {
        byte[] input = "{\"return\": {}}\r\n{\"ev"u8.ToArray();

        QmpFraming.TryReadMessage(input, out int consumed, out ReadOnlySpan<byte> message).ShouldBeTrue();

        Encoding.UTF8.GetString(message).ShouldBe("{\"return\": {}}");
        consumed.ShouldBe(16);
    }

    [Fact]
    public void Blank_lines_before_a_message_are_skipped()
    {
        QmpFraming.TryReadMessage("\r\n\n{}\n"u8, out int consumed, out ReadOnlySpan<byte> message).ShouldBeTrue();

        Encoding.UTF8.GetString(message).ShouldBe("{}");
        consumed.ShouldBe(6);
    }

    [Fact]
    public void An_unterminated_message_larger_than_the_limit_is_a_protocol_error()
    {
        byte[] input = new byte[QmpFraming.MaxMessageBytes + 1];
        input.AsSpan().Fill((byte)' ');

        Should.Throw<QmpProtocolException>(() => QmpFraming.TryReadMessage(input, out _, out _));
    }
}
