namespace Cc.Ttrpc;

/// <summary>
/// The one exception type for every ttrpc failure, on both sides. A handler throws it to return a
/// status; a client call throws it for a non-OK response or a local failure.
/// </summary>
public sealed class TtrpcException : Exception
{
    public TtrpcException(StatusCode code, string message, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
    }

    public StatusCode Code { get; }

    /// <summary>The status details when this exception was built from a status that carried them.</summary>
    public IReadOnlyList<Google.Protobuf.WellKnownTypes.Any> Details { get; private init; } = [];

    public Google.Rpc.Status ToStatus()
    {
        var status = new Google.Rpc.Status { Code = (int)Code, Message = Message };
        status.Details.AddRange(Details);
        return status;
    }

    public static TtrpcException FromStatus(Google.Rpc.Status status)
    {
        ArgumentNullException.ThrowIfNull(status);
        return new TtrpcException((StatusCode)status.Code, status.Message) { Details = [.. status.Details] };
    }

    public override string ToString() => $"ttrpc {Code}: {Message}";

    // The texts below are the Go reference's (client.go, server.go, channel.go, services.go) so that logs
    // and peers see the same words.
    internal static TtrpcException Closed(Exception? inner = null) =>
        new(StatusCode.Unavailable, "ttrpc: closed", inner);

    internal static TtrpcException Oversized(long length) =>
        new(StatusCode.ResourceExhausted,
            $"message length {length} exceed maximum message size of {Framing.FrameLimits.MessageLengthMax}");
}
