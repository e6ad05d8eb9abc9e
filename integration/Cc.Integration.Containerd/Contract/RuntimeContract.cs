using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Containerd.Contract;

/// <summary>
/// What `ctr` users see of a runtime, asserted the same way for every runtime: run, exit status,
/// tty, exec, signals, ps, pause/resume, metrics, bulk output and clean-up. Each test runs against
/// containerd 1.6 and 1.7. Derived classes pick the runtime: runc proves the harness (a failure there
/// is the harness's or the host's), io.containerd.cc.v2 proves the shim.
/// The partial files group the tests by concern.
/// </summary>
public abstract partial class RuntimeContract(ContainerdFixture fixture)
{
    private static readonly TimeSpan s_testBudget = TimeSpan.FromMinutes(8);

    private protected abstract RuntimeUnderTest Runtime { get; }

    /// <summary>
    /// Fails (never skips) when the runtime cannot be tried at all, naming what is missing. <paramref name="runtime"/>
    /// replaces the class's runtime for this test (the same runtime with a configuration of the test's own).
    /// </summary>
    private protected async Task<ContainerdSession> BeginAsync(string version, RuntimeUnderTest? runtime = null)
    {
        var missing = Runtime.MissingPrerequisite();
        if (missing is not null)
        {
            Assert.Fail($"{Runtime.Describe()}: {missing}");
        }

        // A runtime that hung once would cost a full timeout in every later test; fail those at once.
        if (fixture.EarlierHang(Runtime.Name, version) is { } hang)
        {
            Assert.Fail($"{Runtime.Describe()} on containerd {version}: not run, because an earlier test hung:\n{hang}");
        }

        using var start = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var containerd = await fixture.GetAsync(version, start.Token);
        return new ContainerdSession(
            containerd, runtime ?? Runtime, fixture.Images.BusyboxImage, s_testBudget, what => fixture.RecordHang(Runtime.Name, version, what));
    }

    /// <summary>
    /// Delays a short-lived process's output by a second. ctr opens its stdout FIFO asynchronously
    /// and, once the task has exited, cancels an open that has not happened yet (containerd client
    /// Task.Delete: io.Cancel, then io.Wait), losing everything the container wrote; on a loaded host
    /// that open can lag a whole runc create+start (seen with containerd 1.7 under load 20). The
    /// pause keeps ctr's race out of what these tests judge.
    /// </summary>
    private protected static string AfterCtrAttached(string script) => $"sleep 1; {script}";

    /// <summary>
    /// Whether the runtime promises what these tests would otherwise pause for: all output is in the client's FIFO
    /// before the exit is reported, and the FIFOs are opened at Create, long before the container writes (our shim
    /// boots a VM in between, so ctr's asynchronous open has always completed). True for io.containerd.cc.v2, whose
    /// tests therefore run short commands with no sleep at all; the runc baseline keeps the pauses.
    /// </summary>
    private protected bool OutputCompleteAtExit => Runtime.Name == RuntimeUnderTest.Cc.Name;

    /// <summary><paramref name="script"/> as is for a runtime that keeps output complete at exit, else after the pause.</summary>
    private protected string Short(string script) => OutputCompleteAtExit ? script : AfterCtrAttached(script);
}
