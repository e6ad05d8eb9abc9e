using Google.Protobuf.WellKnownTypes;

namespace Cc.Containerd.Protocol;

/// <summary>
/// Timestamps as containerd expects them (protocol.md §3.3, pitfall 13): "not exited" is Go's zero time,
/// 0001-01-01T00:00:00Z, not an absent field (which 1.7+/2.x would read as 1970).
/// </summary>
public static class GoTime
{
    /// <summary>Seconds of 0001-01-01T00:00:00Z relative to the Unix epoch.</summary>
    public const long ZeroSeconds = -62135596800;

    public static Timestamp Zero => new() { Seconds = ZeroSeconds, Nanos = 0 };

    /// <summary>The wire form of an optional instant: Go zero time when there is none.</summary>
    public static Timestamp From(DateTimeOffset? instant) =>
        instant is { } value ? Timestamp.FromDateTimeOffset(value) : Zero;
}
