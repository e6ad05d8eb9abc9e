using System.Text.Json;
using Cc.Hypervisor.Qmp;
using Cc.TestKit;

namespace Cc.Hypervisor.Tests.Qmp;

/// <summary>The template factory's wait for its agent to let go of the factory's connection (docs/templates.md, "The
/// first answer"): QEMU's VSERPORT_CHANGE, played by a fake QMP peer.</summary>
public sealed class VirtioSerialPortEventsTests
{
    private const string Port = "agent-port";

    private static string Change(string id, bool open) => $$"""{"id": "{{id}}", "open": {{(open ? "true" : "false")}}}""";

    [Fact]
    public async Task The_wait_ends_at_the_ports_close_and_ignores_its_opens_and_other_ports()
    {
        await WithSubscribedClientAsync(async (client, peer, events) =>
        {
        Task closed = events.WaitForCloseAsync(Port, CancellationToken.None);

        // An open (QEMU's throttle may hold one back from before the hang-up), another port's close and an unrelated
        // event: none of them is the agent letting go of its connection.
        await peer.SendEventAsync(QmpEvent.VserportChange, Change(Port, open: true));
        await peer.SendEventAsync(QmpEvent.VserportChange, Change("other-port", open: false));
        await peer.SendEventAsync(QmpEvent.Resume, "{}");
        await Sync(client, peer);
        closed.IsCompleted.ShouldBeFalse();

        await peer.SendEventAsync(QmpEvent.VserportChange, Change(Port, open: false));
        await closed.WithTimeout();
        });
    }

    [Fact]
    public async Task The_wait_fails_with_a_disconnect_when_QEMU_goes_before_the_port_closes()
    {
        await WithSubscribedClientAsync(async (client, peer, events) =>
        {
        Task closed = events.WaitForCloseAsync(Port, CancellationToken.None);
        await peer.SendEventAsync(QmpEvent.VserportChange, Change(Port, open: true));
        peer.Close();

        await Should.ThrowAsync<QmpDisconnectedException>(closed.WithTimeout());
        });
    }

    [Fact]
    public async Task Events_sent_before_a_reply_are_delivered_by_then_and_discarding_them_keeps_a_stale_cycle_from_counting()
    {
        await WithSubscribedClientAsync(async (client, peer, events) =>
        {
        // A close and reopen of an earlier connection, still on the monitor when the factory hangs up.
        await peer.SendEventAsync(QmpEvent.VserportChange, Change(Port, open: false));
        await peer.SendEventAsync(QmpEvent.VserportChange, Change(Port, open: true));
        await Sync(client, peer);
        events.DiscardDelivered().ShouldBe(2);

        Task closed = events.WaitForCloseAsync(Port, CancellationToken.None);
        await Sync(client, peer);
        closed.IsCompleted.ShouldBeFalse();
        await peer.SendEventAsync(QmpEvent.VserportChange, Change(Port, open: false));
        await closed.WithTimeout();
        });
    }

    [Fact]
    public async Task The_quiet_wait_ends_only_after_a_whole_window_without_a_change_of_the_port()
    {
        await WithSubscribedClientAsync(async (client, peer, events) =>
        {
        var window = TimeSpan.FromSeconds(3);
        Task quiet = events.WaitForQuietAsync(Port, window, CancellationToken.None);

        // Changes of the port keep restarting the window (QEMU releasing a held-back state); other ports do not count.
        for (int i = 0; i < 4; i++)
        {
            await peer.SendEventAsync(QmpEvent.VserportChange, Change(Port, open: i % 2 == 0));
            await Sync(client, peer);
            quiet.IsCompleted.ShouldBeFalse($"after change {i}: {quiet.Exception}");
        }
        await peer.SendEventAsync(QmpEvent.VserportChange, Change("other-port", open: false));
        await quiet.WithTimeout();
        });
    }

    [Fact]
    public async Task The_quiet_wait_fails_with_a_disconnect_when_QEMU_goes()
    {
        await WithSubscribedClientAsync(async (client, peer, events) =>
        {
        Task quiet = events.WaitForQuietAsync(Port, TimeSpan.FromSeconds(30), CancellationToken.None);
        peer.Close();

        await Should.ThrowAsync<QmpDisconnectedException>(quiet.WithTimeout());
        });
    }

    [Theory]
    [InlineData("""{"id": "agent-port", "open": true}""", true, true)]
    [InlineData("""{"id": "agent-port", "open": false}""", true, false)]
    [InlineData("""{"id": "agent-port"}""", false, false)]
    [InlineData("""{"open": true}""", false, false)]
    [InlineData("""{"id": 7, "open": true}""", false, false)]
    [InlineData("""{"id": "agent-port", "open": "yes"}""", false, false)]
    public void Only_a_well_formed_VSERPORT_CHANGE_is_read(string data, bool read, bool open)
    {
        var evt = new QmpEvent(QmpEvent.VserportChange, JsonDocument.Parse(data).RootElement.Clone(), DateTimeOffset.UnixEpoch);
        VirtioSerialPortEvents.TryRead(evt, out string id, out bool isOpen).ShouldBe(read);
        if (read)
        {
            id.ShouldBe(Port);
            isOpen.ShouldBe(open);
        }
        VirtioSerialPortEvents.TryRead(evt with { Name = QmpEvent.Resume }, out _, out _).ShouldBeFalse();
    }

    /// <summary>A command round trip: every event the peer sent before its reply has been delivered when this returns.</summary>
    /// <summary>Runs <paramref name="body"/> with a QMP client connected to a fake QEMU and subscribed to its events.</summary>
    private static async Task WithSubscribedClientAsync(Func<QmpClient, FakeQmpPeer, QmpEventSubscription, Task> body)
    {
        await using var server = new FakeQmpServer();
        var (client, peer) = await server.ConnectClientAsync();
        await using (client)
        using (peer)
        {
            using QmpEventSubscription events = client.SubscribeEvents();
            await body(client, peer, events);
        }
    }

    private static async Task Sync(QmpClient client, FakeQmpPeer peer)
    {
        Task<QmpStatus> status = client.QueryStatusAsync(CancellationToken.None);
        JsonElement query = await peer.ReceiveAsync();
        await peer.ReplyAsync(query, """{"status": "running", "running": true}""");
        await status.WithTimeout();
    }
}
