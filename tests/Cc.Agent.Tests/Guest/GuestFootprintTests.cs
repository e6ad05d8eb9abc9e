using System.Diagnostics;
using Cc.Agent.Guest;

namespace Cc.Agent.Tests.Guest;

/// <summary>
/// What the template's warm-up container could leave in the guest (GuestFootprint): whatever a later capture has that
/// the first had not is reported, and nothing else, so a template with a leftover is never saved (docs/templates.md).
/// </summary>
public sealed class GuestFootprintTests
{
    private static GuestFootprint Footprint(string[] mounts, string[] cgroups, int[] children, string[] paths) =>
        new(mounts.ToHashSet(), cgroups.ToHashSet(), children.ToHashSet(), paths.ToHashSet());

    [Fact]
    public void Each_added_mount_cgroup_process_and_path_is_reported_and_what_went_away_is_not()
    {
        var before = Footprint(["/ rootfs rootfs", "/proc proc proc"], ["/sys/fs/cgroup/a"], [7], []);
        var after = Footprint(["/ rootfs rootfs", "/run/cc/warm-up/rootfs rootfs rootfs"],
            ["/sys/fs/cgroup/a", "/sys/fs/cgroup/cc-template-warm-up"], [9], ["/run/cc/warm-up"]);

        GuestFootprint.Added(before, after).ShouldBe([
            "mount /run/cc/warm-up/rootfs rootfs rootfs",
            "cgroup /sys/fs/cgroup/cc-template-warm-up",
            "process 9",
            "path /run/cc/warm-up",
        ]);
    }

    [Fact]
    public void The_same_guest_twice_has_nothing_added()
    {
        var guest = Footprint(["/ rootfs rootfs"], ["/sys/fs/cgroup/a"], [7], ["/run/crun"]);

        GuestFootprint.Added(guest, guest with { }).ShouldBeEmpty();
    }

    [Fact]
    public void A_capture_sees_a_child_process_and_a_watched_path_that_appeared()
    {
        var path = Path.Combine(Path.GetTempPath(), $"cc-footprint-{Guid.NewGuid():N}");
        var before = GuestFootprint.Capture([path]);
        Directory.CreateDirectory(path);
        using var child = Process.Start(new ProcessStartInfo("sleep", "30") { UseShellExecute = false })!;
        try
        {
            var added = GuestFootprint.Added(before, GuestFootprint.Capture([path]));

            added.ShouldContain($"process {child.Id}");
            added.ShouldContain($"path {path}");
        }
        finally
        {
            child.Kill();
            child.WaitForExit();
            Directory.Delete(path);
        }
    }
}
