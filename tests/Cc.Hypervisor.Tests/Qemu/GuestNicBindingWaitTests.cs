using System.Text.Json;
using Cc.Hypervisor.Qemu.Hotplug;
using Cc.Hypervisor.Qmp;

namespace Cc.Hypervisor.Tests.Qemu;

/// <summary>
/// Whether a template's clone keeps its guest or boots the pod cold (docs/templates.md, "Network interfaces"): the wait
/// for the guest's virtio-net driver to take each hot-plugged NIC, against canned x-query-virtio-status replies in QEMU
/// 7.2's form. The clock moves one second per query, so the bound is reached after a known number of them.
/// </summary>
public sealed class GuestNicBindingWaitTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    // QEMU 7.2's status bits as the guest driver sets them: acknowledged and found a driver, then features, then ready.
    private const string Probing = """{"status": {"statuses": ["VIRTIO_CONFIG_S_ACKNOWLEDGE: Valid virtio device found", "VIRTIO_CONFIG_S_DRIVER: Guest OS compatible with device"]}}""";
    private const string Untouched = """{"status": {"statuses": []}}""";
    private const string Ready = """{"status": {"statuses": ["VIRTIO_CONFIG_S_DRIVER_OK: Driver setup and ready", "VIRTIO_CONFIG_S_FEATURES_OK: Feature negotiation complete", "VIRTIO_CONFIG_S_DRIVER: Guest OS compatible with device", "VIRTIO_CONFIG_S_ACKNOWLEDGE: Valid virtio device found"]}}""";

    [Fact]
    public async Task The_wait_ends_as_soon_as_every_NIC_reads_driver_ok_and_asks_each_by_its_virtio_backend_path()
    {
        var qmp = new SteppingQmp();
        qmp.Reply("nic0", Untouched, Probing, Ready);
        qmp.Reply("nic1", Ready);

        (await Wait(qmp).WaitAsync(["nic0", "nic1"], CancellationToken.None)).ShouldBeNull();

        // nic0 three times until it was taken, then nic1 once; a NIC already taken is not asked again.
        qmp.Asked.ShouldBe(["/machine/peripheral/nic0/virtio-backend", "/machine/peripheral/nic0/virtio-backend",
            "/machine/peripheral/nic0/virtio-backend", "/machine/peripheral/nic1/virtio-backend"]);
    }

    [Fact]
    public async Task A_NIC_the_guest_never_takes_is_reported_with_its_status_bits_once_the_bound_passed_and_not_before()
    {
        var qmp = new SteppingQmp();
        qmp.Reply("nic0", Ready);
        qmp.Reply("nic1", Probing);

        NicNotTaken? missing = await Wait(qmp).WaitAsync(["nic0", "nic1"], CancellationToken.None);

        missing.ShouldNotBeNull();
        missing.DeviceId.ShouldBe("nic1");
        missing.Statuses.ShouldBe("VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER");
        missing.Waited.ShouldBe(Bound);
        // One second per query, the bound checked after each round: nic0 answered at 1 s, nic1 at 2 s … 10 s.
        qmp.Asked.Count(p => p.Contains("nic1", StringComparison.Ordinal)).ShouldBe(9);
        qmp.Clock.GetElapsedTime(0).ShouldBe(Bound);
    }

    [Fact]
    public async Task A_NIC_whose_probe_failed_in_the_guest_is_reported_at_once()
    {
        var qmp = new SteppingQmp();
        qmp.Reply("nic0", """{"status": {"statuses": ["VIRTIO_CONFIG_S_FAILED: Error in guest, device failed", "VIRTIO_CONFIG_S_DRIVER: Guest OS compatible with device", "VIRTIO_CONFIG_S_ACKNOWLEDGE: Valid virtio device found"]}}""");

        NicNotTaken? missing = await Wait(qmp).WaitAsync(["nic0"], CancellationToken.None);

        missing!.Statuses.ShouldBe("VIRTIO_CONFIG_S_FAILED, VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_ACKNOWLEDGE");
        missing.Waited.ShouldBe(TimeSpan.FromSeconds(1));
        qmp.Asked.Count.ShouldBe(1);
    }

    [Fact]
    public async Task A_device_that_has_set_no_status_bit_at_all_is_reported_as_none()
    {
        var qmp = new SteppingQmp();
        qmp.Reply("nic0", Untouched);

        (await Wait(qmp).WaitAsync(["nic0"], CancellationToken.None))!.Statuses.ShouldBe("none");
    }

    [Fact]
    public async Task A_QEMU_without_x_query_virtio_status_cannot_tell_and_leaves_the_check_to_the_agent()
    {
        var qmp = new SteppingQmp { Missing = true };

        (await Wait(qmp).WaitAsync(["nic0"], CancellationToken.None)).ShouldBeNull();
        qmp.Asked.Count.ShouldBe(1);
    }

    [Fact]
    public async Task QEMU_gone_during_the_wait_is_an_error_not_a_verdict()
    {
        var qmp = new SteppingQmp { Gone = true };

        await Should.ThrowAsync<QmpDisconnectedException>(() => Wait(qmp).WaitAsync(["nic0"], CancellationToken.None));
    }

    private static GuestNicBindingWait Wait(SteppingQmp qmp) => new(qmp, qmp.Clock, Bound, TimeSpan.Zero);

    /// <summary>Answers x-query-virtio-status per device from a script (the last reply repeats) and moves its clock one
    /// second per query.</summary>
    private sealed class SteppingQmp : IQmpExecutor
    {
        private readonly Dictionary<string, Queue<string>> _replies = new(StringComparer.Ordinal);

        public SteppingClock Clock { get; } = new();
        public List<string> Asked { get; } = [];
        public bool Missing { get; init; }
        public bool Gone { get; init; }

        public void Reply(string deviceId, params string[] replies) => _replies[deviceId] = new Queue<string>(replies);

        public Task<JsonElement> ExecuteAsync(string command, JsonElement? arguments, CancellationToken cancellationToken)
        {
            command.ShouldBe("x-query-virtio-status");
            string path = arguments!.Value.GetProperty("path").GetString()!;
            Asked.Add(path);
            Clock.Step(TimeSpan.FromSeconds(1));
            if (Missing)
            {
                throw new QmpErrorException(command, "CommandNotFound", "The command x-query-virtio-status has not been found");
            }
            if (Gone)
            {
                throw new QmpDisconnectedException("QEMU exited");
            }
            string id = path.Split('/')[^2];
            Queue<string> queue = _replies[id];
            string json = queue.Count > 1 ? queue.Dequeue() : queue.Peek();
            return Task.FromResult(JsonDocument.Parse(json).RootElement.Clone());
        }
    }

    /// <summary>A monotonic clock that moves only when told (the wait measures its bound with GetTimestamp).</summary>
    private sealed class SteppingClock : TimeProvider
    {
        private long _ticks;

        public void Step(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Read(ref _ticks);
    }
}
