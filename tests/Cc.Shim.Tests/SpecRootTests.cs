using System.Text;
using Cc.Hypervisor.Native;
using Cc.Shim.Sandbox;

namespace Cc.Shim.Tests;

public sealed class SpecRootTests
{
    private const string Bundle = "/run/containerd/io.containerd.runtime.v2.task/moby/c1";

    private static string HostPath(string json) => SpecRoot.HostPath(Encoding.UTF8.GetBytes(json), Bundle);

    [Fact]
    public void An_absolute_root_path_is_taken_as_it_is_as_docker_names_its_overlay_mount()
    {
        HostPath("""{"root":{"path":"/var/lib/docker/overlay2/abc/merged"}}""").ShouldBe("/var/lib/docker/overlay2/abc/merged");
    }

    [Theory]
    [InlineData("rootfs", Bundle + "/rootfs")]
    [InlineData("./image/root/", Bundle + "/image/root")]
    [InlineData("../shared/rootfs", "/run/containerd/io.containerd.runtime.v2.task/moby/shared/rootfs")]
    public void A_relative_root_path_is_resolved_against_the_bundle(string path, string expected)
    {
        HostPath($$$"""{"root":{"path":"{{{path}}}"}}""").ShouldBe(expected);
    }

    [Theory]
    [InlineData("""{"process":{"args":["sh"]}}""")]
    [InlineData("""{"root":{"readonly":true}}""")]
    [InlineData("""{"root":{"path":""}}""")]
    public void A_spec_without_a_root_path_means_the_bundles_rootfs(string json)
    {
        HostPath(json).ShouldBe(Bundle + "/rootfs");
    }

    [Theory]
    [InlineData("""{"root":{"path":7}}""", "not a string")]
    [InlineData("""{"root":""", "not valid JSON")]
    public void A_root_path_that_cannot_be_read_is_an_invalid_request(string json, string reason)
    {
        Should.Throw<InvalidRequestException>(() => HostPath(json)).Message.ShouldContain(reason);
    }

    /// <summary>
    /// The real mount (needs root, as the shim under containerd has): the directory root.path names is what the share
    /// holds, the bundle's own rootfs/ is neither shared nor written, and Release leaves no mount behind, so containerd
    /// can remove the bundle.
    /// </summary>
    [Fact]
    public async Task Prepare_shares_the_directory_root_path_names_and_release_unmounts_it()
    {
        Environment.IsPrivilegedProcess.ShouldBeTrue("this test mounts, as the shim does under containerd: run it as root (make test does)");
        var top = Directory.CreateTempSubdirectory("cc-specroot-").FullName;
        try
        {
            var bundle = Directory.CreateDirectory(Path.Combine(top, "bundle")).FullName;
            Directory.CreateDirectory(Path.Combine(bundle, "rootfs"));
            var image = Directory.CreateDirectory(Path.Combine(top, "overlay", "merged")).FullName;
            await File.WriteAllTextAsync(Path.Combine(image, "marker"), "image", CancellationToken.None);
            var shared = Path.Combine(top, "shared");
            var spec = Encoding.UTF8.GetBytes($$$"""{"process":{"args":["true"]},"root":{"path":"{{{image}}}"}}""");
            var rootfs = new HostRootfs();

            var container = await rootfs.PrepareAsync("c1", bundle, [], spec, shared, CancellationToken.None);

            var target = HostRootfs.HostPath(shared, "c1");
            (await File.ReadAllTextAsync(Path.Combine(target, "marker"), CancellationToken.None)).ShouldBe("image");
            container.GuestRootfs.ShouldBe(HostRootfs.GuestPath("c1"));
            Directory.EnumerateFileSystemEntries(Path.Combine(bundle, "rootfs")).ShouldBeEmpty();

            await rootfs.ReleaseAsync("c1", shared, CancellationToken.None);

            MountTable.Below(top).ShouldBeEmpty();
            File.Exists(Path.Combine(image, "marker")).ShouldBeTrue("release must not delete through the share");
        }
        finally
        {
            foreach (var mount in MountTable.Below(top))
            {
                LibC.umount2(mount, LibC.MNT_DETACH);
            }
            Directory.Delete(top, recursive: true);
        }
    }

    [Fact]
    public async Task Prepare_refuses_a_root_path_that_is_not_a_directory()
    {
        var top = Directory.CreateTempSubdirectory("cc-specroot-").FullName;
        try
        {
            var spec = Encoding.UTF8.GetBytes("""{"process":{"args":["true"]},"root":{"path":"/nonexistent/cc/merged"}}""");

            var error = await Should.ThrowAsync<InvalidRequestException>(() => new HostRootfs().PrepareAsync(
                "c1", top, [], spec, Path.Combine(top, "shared"), CancellationToken.None));

            error.Message.ShouldContain("/nonexistent/cc/merged");
        }
        finally
        {
            Directory.Delete(top, recursive: true);
        }
    }
}
