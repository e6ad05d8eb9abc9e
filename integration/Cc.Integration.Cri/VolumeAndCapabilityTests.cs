using Cc.Integration.Containerd.Harness;
using Cc.Integration.Cri.Harness;
using Runtime.V1;
using Xunit.Abstractions;

namespace Cc.Integration.Cri;

/// <summary>
/// What a container may do with a read-only volume and with CAP_NET_ADMIN, the same for runc and <c>cc</c> (cri-tools'
/// critest "non-recursive readonly mounts" and "adding capability"): a read-only volume is read-only on its own files
/// but a filesystem mounted below its host source stays writable, and a Linux bridge can be made.
/// </summary>
[Collection(CriCollection.Name)]
[Trait("Category", "Cri")]
public sealed class VolumeAndCapabilityTests(CriFixture fixture, ITestOutputHelper output)
{
    public static TheoryData<string, string> Runtimes => PodLifecycleTests.Runtimes;

    [Theory]
    [MemberData(nameof(Runtimes))]
    public async Task A_read_only_volume_spares_its_submounts_and_NET_ADMIN_makes_a_bridge(string version, string handler)
    {
        var ct = CancellationToken.None;
        var containerd = await fixture.ContainerdAsync(version);
        var logStart = containerd.LogLength();
        var source = Directory.CreateTempSubdirectory("cc-cri-ro-").FullName;
        var submount = Path.Combine(source, "tmpfs");
        Directory.CreateDirectory(submount);
        var mounted = await ProcessRunner.RunAsync("mount", ["-t", "tmpfs", "cc-cri-ro", submount], TimeSpan.FromSeconds(20), ct);
        mounted.ExitCode.ShouldBe(0, mounted.Describe());
        try
        {
            await using var pod = await CriPod.RunAsync(containerd, handler, $"ro-{handler}", ct);
            var id = await pod.CreateContainerAsync("vol", 0, "echo vol-up; while :; do sleep 1; done", ct, configure: c =>
            {
                c.Mounts.Add(new Mount { HostPath = source, ContainerPath = "/mnt", Readonly = true });
                c.Linux.SecurityContext = new LinuxContainerSecurityContext
                {
                    Capabilities = new Capability { AddCapabilities = { "NET_ADMIN" } },
                };
            });
            await pod.StartContainerAsync(id, ct);

            var below = await pod.ExecSyncAsync(id, ct, "touch", "/mnt/tmpfs/file");
            below.ExitCode.ShouldBe(0, $"the submount is writable, as runc leaves it: {below.Stderr.ToStringUtf8()}");
            var top = await pod.ExecSyncAsync(id, ct, "touch", "/mnt/file");
            top.ExitCode.ShouldNotBe(0, "the volume itself is read-only");
            top.Stderr.ToStringUtf8().ShouldContain("Read-only file system");
            File.Exists(Path.Combine(submount, "file")).ShouldBeTrue("the write reached the host's tmpfs");
            File.Exists(Path.Combine(source, "file")).ShouldBeFalse();

            var bridge = await pod.ExecSyncAsync(id, ct, "brctl", "addbr", "cc-test0");
            output.WriteLine($"brctl addbr: exit {bridge.ExitCode} {bridge.Stderr.ToStringUtf8()}");
            bridge.ExitCode.ShouldBe(0, bridge.Stderr.ToStringUtf8());
            await pod.RemoveAsync(ct);
        }
        catch
        {
            output.WriteLine($"--- containerd {version} log (tail) ---\n{containerd.LogSince(logStart)}");
            throw;
        }
        finally
        {
            await ProcessRunner.RunAsync("umount", ["-l", submount], TimeSpan.FromSeconds(20), CancellationToken.None);
            Directory.Delete(source, recursive: true);
        }
    }
}
