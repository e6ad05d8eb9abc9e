using System.Text.Json;
using Cc.Hypervisor.Qemu;
using Cc.Hypervisor.Qemu.Devices;
using Cc.Hypervisor.Qemu.Hotplug;
using Cc.Hypervisor.Qmp;

namespace Cc.Hypervisor.Tests.Qemu;

/// <summary>
/// Hot-plug headroom on the command line and the QMP steps of a resize, against canned QEMU 7.2 replies (the
/// query-hotpluggable-cpus reply below is QEMU 7.2's for <c>-machine q35 -smp 1,maxcpus=4</c>, recorded on this host).
/// The guest side (CPUs online, MemTotal grown) is observed by the integration test, not here.
/// </summary>
public sealed class HotplugTests
{
    private static readonly HostCapabilities TcgHost = new(KvmUsable: false, QbootPath: null, TscKhz: null, VhostVsock: false);

    private const string FourSlotsOnePlugged = """
        [{"props": {"core-id": 3, "thread-id": 0, "node-id": 0, "socket-id": 0}, "vcpus-count": 1, "type": "qemu64-x86_64-cpu"},
         {"props": {"core-id": 2, "thread-id": 0, "node-id": 0, "socket-id": 0}, "vcpus-count": 1, "type": "qemu64-x86_64-cpu"},
         {"props": {"core-id": 1, "thread-id": 0, "node-id": 0, "socket-id": 0}, "vcpus-count": 1, "type": "qemu64-x86_64-cpu"},
         {"props": {"core-id": 0, "thread-id": 0, "node-id": 0, "socket-id": 0}, "vcpus-count": 1, "qom-path": "/machine/unattached/device[0]", "type": "qemu64-x86_64-cpu"}]
        """;

    private static VmConfig Config() => new()
    {
        Kernel = new KernelConfig { Path = "/g/vmlinux", InitramfsPath = "/g/initramfs.cpio" },
        RunDirectory = "/run/cc/pod1",
    };

    private static IReadOnlyList<string> Build(VmConfig config) => QemuCommandLine.Build(config, RunLayout.For(config), TcgHost);

    [Fact]
    public void Headroom_adds_maxcpus_maxmem_a_virtio_mem_device_and_memory_auto_online()
    {
        var argv = Build(Config() with { MemoryMiB = 256, MaxMemoryMiB = 1280, Vcpus = 1, MaxVcpus = 4 });
        argv.ShouldContain("1,maxcpus=4");
        argv.ShouldContain("256M,maxmem=1280M");
        argv.ShouldContain("memory-backend-ram,id=cc-hotmem,size=1024M");
        argv.ShouldContain("virtio-mem-pci,id=cc-vmem,memdev=cc-hotmem,requested-size=0");
        argv[argv.ToList().IndexOf("-append") + 1].ShouldContain("memhp_default_state=online memory_hotplug.online_policy=auto-movable");
    }

    [Fact]
    public void No_headroom_keeps_the_plain_size_and_no_virtio_mem()
    {
        var argv = Build(Config() with { MemoryMiB = 512, MaxMemoryMiB = 512, Vcpus = 2, MaxVcpus = 2 });
        argv.ShouldContain("2");
        argv.ShouldContain("512M");
        argv.ShouldNotContain(a => a.Contains("virtio-mem", StringComparison.Ordinal) || a.Contains("maxmem", StringComparison.Ordinal));
        argv[argv.ToList().IndexOf("-append") + 1].ShouldNotContain("memhp_default_state");
    }

    [Fact]
    public void Memory_headroom_is_whole_virtio_mem_blocks_and_shared_with_virtio_fs()
    {
        QemuCommandLine.HotplugMemoryMiB(Config() with { MemoryMiB = 256, MaxMemoryMiB = 1281 }).ShouldBe(1024);
        QemuCommandLine.HotplugMemoryMiB(Config() with { MemoryMiB = 256, MaxMemoryMiB = 257 }).ShouldBe(0);
        new VirtioMemDevice(64, Shared: true).Arguments().ShouldContain("memory-backend-memfd,id=cc-hotmem,size=64M,share=on");
    }

    [Fact]
    public void Microvm_with_headroom_and_a_maximum_below_the_boot_size_are_refused_naming_the_field()
    {
        Should.Throw<VmConfigException>(() => VmConfigValidation.CheckHotplug(Config() with { Machine = MachineType.Microvm, MaxVcpus = 2 }))
            .Message.ShouldContain("microvm has no memory or vCPU hot-plug");
        Should.Throw<VmConfigException>(() => VmConfigValidation.CheckHotplug(Config() with { MemoryMiB = 512, MaxMemoryMiB = 256 }))
            .Message.ShouldContain("MaxMemoryMiB 256 is below MemoryMiB 512");
        Should.Throw<VmConfigException>(() => VmConfigValidation.CheckHotplug(Config() with { Vcpus = 2, MaxVcpus = 1 }))
            .Message.ShouldContain("MaxVcpus 1 is below Vcpus 2");
    }

    [Fact]
    public void The_plan_fills_the_lowest_empty_slots_in_topology_order()
    {
        var plan = VcpuPlan.For(CpuSlot.Parse(Json(FourSlotsOnePlugged)), 3);
        plan.Plug.Select(s => s.DeviceId).ShouldBe(["cc-vcpu-0-0-0-1-0", "cc-vcpu-0-0-0-2-0"]);
        plan.Unplug.ShouldBeEmpty();
    }

    [Fact]
    public void The_plan_unplugs_the_highest_plugged_cpus_and_never_a_boot_cpu()
    {
        var slots = CpuSlot.Parse(Json(FourSlotsOnePlugged)).Select(s => s.Order.ElementAt(3) switch
        {
            1 => s with { QomPath = "/machine/peripheral/cc-vcpu-0-0-0-1-0" },
            2 => s with { QomPath = "/machine/peripheral/cc-vcpu-0-0-0-2-0" },
            _ => s,
        }).ToList();
        VcpuPlan.For(slots, 2).Unplug.Select(s => s.PluggedId).ShouldBe(["cc-vcpu-0-0-0-2-0"]);
        VcpuPlan.For(slots, 0).Unplug.Select(s => s.PluggedId).ShouldBe(["cc-vcpu-0-0-0-2-0", "cc-vcpu-0-0-0-1-0"]);
        VcpuPlan.For(slots, 3).Plug.ShouldBeEmpty();
    }

    [Fact]
    public async Task Plugging_cpus_sends_device_add_with_the_slots_type_and_props()
    {
        var qmp = new ScriptedQmp();
        qmp.Reply("query-hotpluggable-cpus", FourSlotsOnePlugged);
        qmp.Reply("device_add", "{}");
        qmp.Reply("device_add", "{}");
        qmp.Reply("query-hotpluggable-cpus", FourSlotsOnePlugged.Replace("\"core-id\": 1, \"thread-id\": 0, \"node-id\": 0, \"socket-id\": 0}, \"vcpus-count\": 1,",
            "\"core-id\": 1, \"thread-id\": 0, \"node-id\": 0, \"socket-id\": 0}, \"vcpus-count\": 1, \"qom-path\": \"/machine/peripheral/cc-vcpu-0-0-0-1-0\",", StringComparison.Ordinal)
            .Replace("\"core-id\": 2, \"thread-id\": 0, \"node-id\": 0, \"socket-id\": 0}, \"vcpus-count\": 1,",
            "\"core-id\": 2, \"thread-id\": 0, \"node-id\": 0, \"socket-id\": 0}, \"vcpus-count\": 1, \"qom-path\": \"/machine/peripheral/cc-vcpu-0-0-0-2-0\",", StringComparison.Ordinal));

        int present = await new VcpuHotplug(qmp, TimeProvider.System, TimeSpan.FromSeconds(5)).SetCountAsync(3, CancellationToken.None);

        present.ShouldBe(3);
        var adds = qmp.Sent.Where(c => c.Command == "device_add").Select(c => c.Arguments!.Value).ToList();
        adds.Count.ShouldBe(2);
        adds[0].GetProperty("driver").GetString().ShouldBe("qemu64-x86_64-cpu");
        adds[0].GetProperty("id").GetString().ShouldBe("cc-vcpu-0-0-0-1-0");
        adds[0].GetProperty("core-id").GetInt32().ShouldBe(1);
        adds[0].GetProperty("socket-id").GetInt32().ShouldBe(0);
        adds[0].GetProperty("node-id").GetInt32().ShouldBe(0);
        adds[1].GetProperty("core-id").GetInt32().ShouldBe(2);
    }

    [Fact]
    public async Task Unplugging_waits_until_the_guest_has_ejected_the_cpu()
    {
        string twoPlugged = FourSlotsOnePlugged.Replace("\"core-id\": 1, \"thread-id\": 0, \"node-id\": 0, \"socket-id\": 0}, \"vcpus-count\": 1,",
            "\"core-id\": 1, \"thread-id\": 0, \"node-id\": 0, \"socket-id\": 0}, \"vcpus-count\": 1, \"qom-path\": \"/machine/peripheral/cc-vcpu-0-0-0-1-0\",", StringComparison.Ordinal);
        var qmp = new ScriptedQmp();
        qmp.Reply("query-hotpluggable-cpus", twoPlugged);
        qmp.Reply("device_del", "{}");
        qmp.Reply("query-hotpluggable-cpus", twoPlugged); // the guest has not ejected it yet
        qmp.Reply("query-hotpluggable-cpus", FourSlotsOnePlugged);

        int present = await new VcpuHotplug(qmp, TimeProvider.System, TimeSpan.FromSeconds(30)).SetCountAsync(1, CancellationToken.None);

        present.ShouldBe(1);
        qmp.Sent.Single(c => c.Command == "device_del").Arguments!.Value.GetProperty("id").GetString().ShouldBe("cc-vcpu-0-0-0-1-0");
        qmp.Sent.Count(c => c.Command == "query-hotpluggable-cpus").ShouldBe(3);
    }

    [Fact]
    public async Task A_memory_request_is_rounded_to_blocks_and_done_when_the_guest_plugged_it()
    {
        var qmp = new ScriptedQmp();
        qmp.Reply("qom-set", "{}");
        qmp.Reply("qom-get", "0");
        qmp.Reply("qom-get", "134217728");
        qmp.Reply("qom-get", "270532608");

        long plugged = await new VirtioMemHotplug(qmp, TimeProvider.System, TimeSpan.FromSeconds(30))
            .ResizeAsync((257L << 20) + 1, CancellationToken.None);

        plugged.ShouldBe(258L << 20);
        var set = qmp.Sent[0].Arguments!.Value;
        set.GetProperty("path").GetString().ShouldBe("/machine/peripheral/cc-vmem");
        set.GetProperty("property").GetString().ShouldBe("requested-size");
        set.GetProperty("value").GetInt64().ShouldBe(258L << 20);
        qmp.Sent.Count(c => c.Command == "qom-get").ShouldBe(3);
    }

    [Fact]
    public async Task A_shrink_the_guest_cannot_finish_returns_what_it_kept_when_the_bound_passes()
    {
        var qmp = new ScriptedQmp();
        qmp.Reply("qom-set", "{}");
        qmp.Reply("qom-get", "134217728");

        long plugged = await new VirtioMemHotplug(qmp, TimeProvider.System, TimeSpan.Zero).ResizeAsync(0, CancellationToken.None);

        plugged.ShouldBe(128L << 20);
    }

    [Fact]
    public async Task The_vm_interface_clamps_to_its_headroom()
    {
        var qmp = new ScriptedQmp();
        qmp.Reply("qom-set", "{}");
        qmp.Reply("qom-get", "1073741824");
        var hotplug = new QemuVmHotplug(qmp, Config() with { MemoryMiB = 256, MaxMemoryMiB = 1280, Vcpus = 1, MaxVcpus = 1 },
            TimeProvider.System, TimeSpan.FromSeconds(5));

        (await hotplug.SetMemoryMiBAsync(99_999, CancellationToken.None)).ShouldBe(1280);
        qmp.Sent[0].Arguments!.Value.GetProperty("value").GetInt64().ShouldBe(1024L << 20);
        // No vCPU headroom: nothing is asked of QEMU.
        (await hotplug.SetVcpusAsync(8, CancellationToken.None)).ShouldBe(1);
        qmp.Sent.Count.ShouldBe(2);
    }

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    /// <summary>Answers each command with the next reply queued for it; records what was sent.</summary>
    private sealed class ScriptedQmp : IQmpExecutor
    {
        private readonly Dictionary<string, Queue<string>> _replies = new(StringComparer.Ordinal);

        public List<(string Command, JsonElement? Arguments)> Sent { get; } = [];

        public void Reply(string command, string json)
        {
            if (!_replies.TryGetValue(command, out var queue))
            {
                _replies[command] = queue = new Queue<string>();
            }
            queue.Enqueue(json);
        }

        public Task<JsonElement> ExecuteAsync(string command, JsonElement? arguments, CancellationToken cancellationToken)
        {
            Sent.Add((command, arguments?.Clone()));
            var queue = _replies.GetValueOrDefault(command) ?? throw new InvalidOperationException($"unexpected QMP command {command}");
            // The last reply repeats: a poll keeps seeing the state it ended in.
            string json = queue.Count > 1 ? queue.Dequeue() : queue.Peek();
            return Task.FromResult(Json(json));
        }
    }
}
