using Google.Protobuf;

using Cc.TestKit;

namespace Cc.Ttrpc.Tests.Golden;

/// <summary>The worked byte examples of protocol.md §1.6, observed on the wire against containerd 1.6 and the runc shim.</summary>
internal static class GoldenFrames
{
    public const string TaskService = "containerd.task.v2.Task";
    public const string EventsService = "containerd.services.events.ttrpc.v1.Events";
    public const string NamespaceKey = "containerd-namespace-ttrpc";

    public static readonly byte[] ConnectRequest = Hex.Parse("""
        00000051 00000001 01 00
        0a 17 "containerd.task.v2.Task"
        12 07 "Connect"
        1a 08 0a 06 "probe1"
        2a 23 0a 1a "containerd-namespace-ttrpc" 12 05 "ptest"
        """);

    public static readonly byte[] ConnectReply = Hex.Parse("00000005 00000001 02 00 12 03 08 bc 32");

    public static readonly byte[] NotFoundReply = Hex.Parse("""
        00000026 00000003 02 00
        0a 24 08 05 12 20 "container not created: not found"
        """);

    public static readonly byte[] ForwardRequest = Hex.Parse(
        "000000ba0000000101000a2a636f6e7461696e6572642e73657276696365732e6576656e74732e74747270632e76312e4576656e7473" +
        "1207466f72776172641a570a550a080880e2cfaa06100512066b38732e696f1a0b2f7461736b732f6578697422340a1a636f6e7461" +
        "696e6572642e6576656e74732e5461736b4578697412160a0263311202633118d2092089012a060880e2cfaa062080e497d0122a24" +
        "0a1a636f6e7461696e6572642d6e616d6573706163652d747472706312066b38732e696f");

    /// <summary>The ForwardRequest carried by <see cref="ForwardRequest"/>, built from its parts.</summary>
    public static ForwardRequest ForwardPayload()
    {
        var exit = new TaskExit
        {
            ContainerId = "c1",
            Id = "c1",
            Pid = 1234,
            ExitStatus = 137,
            ExitedAt = new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = 1700000000 },
        };
        return new ForwardRequest
        {
            Envelope = new Envelope
            {
                Timestamp = new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = 1700000000, Nanos = 5 },
                Namespace = "k8s.io",
                Topic = "/tasks/exit",
                Event = new Google.Protobuf.WellKnownTypes.Any { TypeUrl = "containerd.events.TaskExit", Value = exit.ToByteString() },
            },
        };
    }
}
