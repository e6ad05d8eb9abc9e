using Cc.Agent.Guest;
using Cc.Agent.Native;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Agent.Tests.Guest;

/// <summary>
/// The agent binds crun read-only onto itself at boot, so that crun (whose constructor re-executes a sealed copy of
/// itself unless its binary is on a read-only mount) runs each command once and the binary still cannot be rewritten
/// (docs/performance.md, "Where a cold start goes"). Needs root, as the crun tests of this project do. No
/// System.Diagnostics.Process here: the agent's ChildReaper, live in this test host, reaps every child.
/// </summary>
public sealed class ReadOnlyRuntimeTests
{
    [Fact]
    public void A_binary_made_read_only_is_a_read_only_mount_that_cannot_be_opened_for_writing()
    {
        var directory = Directory.CreateTempSubdirectory("cc-ro-runtime-");
        var binary = Path.Combine(directory.FullName, "crun");
        File.Copy("/bin/true", binary);
        var guest = new GuestSystem(NullLoggerFactory.Instance.CreateLogger("guest"));
        try
        {
            guest.MakeReadOnly(binary).ShouldBeTrue();

            var error = Should.Throw<Exception>(() => File.OpenWrite(binary).Dispose());
            (error is IOException or UnauthorizedAccessException).ShouldBeTrue(error.ToString());
            // mountinfo field 5 is the mount point, field 6 its options: "ro,..." (crun's statfs sees ST_RDONLY).
            File.ReadAllLines("/proc/self/mountinfo").Select(line => line.Split(' '))
                .ShouldContain(fields => fields[4] == binary && fields[5].Split(',').Contains("ro"));
            File.ReadAllBytes(binary).ShouldBe(File.ReadAllBytes("/bin/true"));
        }
        finally
        {
            _ = LibC.umount2(binary, 0);
            directory.Delete(recursive: true);
        }
    }
}
