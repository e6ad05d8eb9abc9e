using Xunit.Abstractions;

namespace Cc.Integration.Cri.Harness;

/// <summary>
/// What a CRI test begins with: the fixture's containerd of the version under test, where its log stood and which
/// QEMUs ran before the test (for <see cref="PodLeftovers"/>); on a failure the test writes the log since then.
/// </summary>
internal sealed class CriRun
{
    private readonly string _version;
    private readonly long _logStart;
    private readonly ITestOutputHelper _output;

    private CriRun(CriContainerd containerd, string version, ITestOutputHelper output)
    {
        Containerd = containerd;
        _version = version;
        _output = output;
        _logStart = containerd.LogLength();
        QemuBefore = PodLeftovers.QemuPids();
    }

    public CriContainerd Containerd { get; }

    /// <summary>The QEMUs running before the test: none of them can be its leftover.</summary>
    public IReadOnlySet<int> QemuBefore { get; }

    public static async Task<CriRun> BeginAsync(CriFixture fixture, string version, ITestOutputHelper output) =>
        new(await fixture.ContainerdAsync(version), version, output);

    /// <summary>containerd's log (which carries the shims' lines) since the test began, up to its last <paramref name="lines"/>.</summary>
    public string LogSinceStart(int lines) => Containerd.LogSince(_logStart, lines);

    /// <summary>containerd's log since the test began, to the test's output: called from the test's catch before it rethrows.</summary>
    public void WriteLogTail() => _output.WriteLine($"--- containerd {_version} log (tail) ---\n{Containerd.LogSince(_logStart)}");
}
