using System.Threading.Channels;
using Cc.Hypervisor.Qmp;
using Cc.TestKit;

namespace Cc.Hypervisor.Tests.Qmp;

/// <summary>The signal the agent connector probes on (docs/performance.md, "Where a cold start goes"): QEMU's
/// VSERPORT_CHANGE for the agent's port saying "open", played by a fake QMP peer and fed through a real subscription, as
/// the VM's event loop feeds it.</summary>
public sealed class VirtioSerialPortOpensTests
{
    private const string Port = "agent-port";

    private static string Change(string id, bool open) => $$"""{"id": "{{id}}", "open": {{(open ? "true" : "false")}}}""";

    [Fact]
    public async Task Only_the_guest_opening_this_port_releases_a_waiter()
    {
        await WithSignalAsync(async (peer, opens, fed) =>
        {
            Task opened = opens.NextOpenAsync(CancellationToken.None);

            // The port's close, another port's open and an unrelated event: none is this port opening.
            await peer.SendEventAsync(QmpEvent.VserportChange, Change(Port, open: false));
            await peer.SendEventAsync(QmpEvent.VserportChange, Change("other-port", open: true));
            await peer.SendEventAsync(QmpEvent.Resume, "{}");
            (await fed(3)).ShouldBe([false, false, false]);
            opened.IsCompleted.ShouldBeFalse();

            await peer.SendEventAsync(QmpEvent.VserportChange, Change(Port, open: true));
            (await fed(1)).ShouldBe([true]);
            await opened.WithTimeout();
        });
    }

    [Fact]
    public async Task A_waiter_taken_after_an_open_waits_for_the_next_one()
    {
        await WithSignalAsync(async (peer, opens, fed) =>
        {
            Task first = opens.NextOpenAsync(CancellationToken.None);
            await peer.SendEventAsync(QmpEvent.VserportChange, Change(Port, open: true));
            await fed(1);
            await first.WithTimeout();

            Task second = opens.NextOpenAsync(CancellationToken.None);
            await peer.SendEventAsync(QmpEvent.VserportChange, Change(Port, open: false));
            await fed(1);
            second.IsCompleted.ShouldBeFalse();
            await peer.SendEventAsync(QmpEvent.VserportChange, Change(Port, open: true));
            await fed(1);
            await second.WithTimeout();
        });
    }

    [Fact]
    public async Task A_cancelled_wait_ends_cancelled_and_leaves_the_signal_working()
    {
        await WithSignalAsync(async (peer, opens, fed) =>
        {
            using var cancel = new CancellationTokenSource();
            Task abandoned = opens.NextOpenAsync(cancel.Token);
            Task kept = opens.NextOpenAsync(CancellationToken.None);
            await cancel.CancelAsync();
            await Should.ThrowAsync<OperationCanceledException>(abandoned.WithTimeout());

            await peer.SendEventAsync(QmpEvent.VserportChange, Change(Port, open: true));
            await fed(1);
            await kept.WithTimeout();
        });
    }

    /// <summary>
    /// Runs <paramref name="body"/> with a signal fed every event a fake QEMU sends, as the VM's event loop feeds it. The
    /// body's third argument waits until the next N events have been fed and returns what Observe said of each.
    /// </summary>
    private static async Task WithSignalAsync(Func<FakeQmpPeer, VirtioSerialPortOpens, Func<int, Task<bool[]>>, Task> body)
    {
        await using var server = new FakeQmpServer();
        var (client, peer) = await server.ConnectClientAsync();
        await using (client)
        using (peer)
        {
            var opens = new VirtioSerialPortOpens(Port);
            var observed = Channel.CreateUnbounded<bool>();
            using QmpEventSubscription events = client.SubscribeEvents();
            using var stop = new CancellationTokenSource();
            Task feeding = Task.Run(async () =>
            {
                await foreach (QmpEvent evt in events.ReadAllAsync(stop.Token))
                {
                    observed.Writer.TryWrite(opens.Observe(evt));
                }
            });
            async Task<bool[]> Fed(int count)
            {
                var results = new bool[count];
                for (int i = 0; i < count; i++)
                {
                    results[i] = await observed.Reader.ReadAsync().AsTask().WithTimeout();
                }
                return results;
            }
            await body(peer, opens, Fed);
            await stop.CancelAsync();
            await Should.ThrowAsync<OperationCanceledException>(feeding.WithTimeout());
        }
    }
}
