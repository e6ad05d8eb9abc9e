using Cc.Shim.Sandbox;

namespace Cc.Shim.Tests;

public sealed class HostEntropyTests
{
    [Fact]
    public void Read_returns_as_many_bytes_as_asked()
    {
        HostEntropy.Read(QemuVmLauncher.GuestEntropyBytes).Length.ShouldBe(QemuVmLauncher.GuestEntropyBytes);
    }

    [Fact]
    public void Two_reads_differ()
    {
        // 64 random bytes repeat with probability 2^-512: equal reads mean the source is not random (or not read).
        HostEntropy.Read(64).ShouldNotBe(HostEntropy.Read(64));
    }
}
