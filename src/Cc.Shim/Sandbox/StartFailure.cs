using Cc.Hypervisor;

namespace Cc.Shim.Sandbox;

/// <summary>
/// Why a pod's VM did not start, as one line: the cause (the underlying message, QEMU's or the guest's last word) and
/// what to do, with the docs/troubleshooting.md entry that explains it. The same text is logged once at Error and is
/// the message of the error the Create returns, so containerd's log, <c>ctr</c> and kubelet's events all say the same.
/// </summary>
public sealed record StartFailure(string Cause, string Fix, string Entry)
{
    private const string Guide = "docs/troubleshooting.md";

    /// <summary>The one line: <c>sandbox ID: the VM did not start: CAUSE. Fix: FIX (see docs/troubleshooting.md, "ENTRY")</c>.</summary>
    public string Line(string sandboxId) => $"sandbox {sandboxId}: the VM did not start: {Cause}. Fix: {Fix} (see {Guide}, \"{Entry}\")";

    /// <summary>
    /// Classifies <paramref name="failure"/>, a launch's exception. <paramref name="qemuExit"/> is QEMU's exit code
    /// when it had exited by then; <paramref name="consoleTail"/> the last lines of the guest's console.
    /// </summary>
    public static StartFailure Classify(Exception failure, int bootTimeoutSeconds, int? qemuExit, IReadOnlyList<string> consoleTail)
    {
        var panic = consoleTail.LastOrDefault(l => l.Contains("Kernel panic", StringComparison.Ordinal));
        switch (failure)
        {
            case VmConfigException config:
                return new StartFailure(config.Message,
                    "correct that value in the configuration (`containerd-shim-cc-v2 env` shows which file sets it), then run `containerd-shim-cc-v2 check`",
                    "VM start: the configuration is refused");
            case VmStartException start when start.Message.StartsWith("QEMU exited", StringComparison.Ordinal):
                var said = LastLine(start.Diagnostics);
                var cause = $"{FirstLine(start.Message)}{(said.Length == 0 ? "" : $": {said}")}";
                return said.Contains("kernel", StringComparison.OrdinalIgnoreCase) || said.Contains("PVH ELF Note", StringComparison.Ordinal)
                    ? new StartFailure(cause,
                        "hypervisor.kernel must name the guest kernel (the vmlinux or bzImage `make guest` builds, installed as /usr/share/cc/guest/vmlinux), then run `containerd-shim-cc-v2 check`",
                        "VM start: QEMU cannot load the guest kernel")
                    : new StartFailure(cause,
                        "QEMU's message says what it refused (a device, an option, a file); `containerd-shim-cc-v2 check` tests QEMU and its devices",
                        "VM start: QEMU exited");
            case VmStartException start when start.Message.Contains("did not answer within", StringComparison.Ordinal):
                return new StartFailure($"{FirstLine(start.Message)}{Suffix(LastLine(start.Diagnostics))}",
                    "QEMU is too slow to come up on this host: raise hypervisor.boot_timeout_seconds, or lower the load",
                    "VM start: QEMU's monitor did not answer");
            case var _ when panic is not null:
                return new StartFailure($"the guest kernel panicked: {panic.Trim()}",
                    "the kernel and the initramfs must come from the same `make guest` (`containerd-shim-cc-v2 check` compares them); a panic in early boot may also mean hypervisor.memory_mib is too small",
                    "VM start: the guest kernel panicked");
            case var _ when qemuExit is { } code:
                return new StartFailure($"QEMU exited with code {code} while the guest booted{Suffix(consoleTail.LastOrDefault() ?? "")}",
                    "read QEMU's lines and the guest console lines before this one in the log; a QEMU killed by the host (exit 137) points at the host's OOM killer (`journalctl -k`)",
                    "VM start: QEMU exited while the guest booted");
            case TimeoutException timeout:
                return new StartFailure($"{timeout.Message}{Suffix(consoleTail.LastOrDefault() ?? "", "the guest's last console line: ")}",
                    $"the guest did not boot within hypervisor.boot_timeout_seconds = {bootTimeoutSeconds}: raise it on a slow (TCG) or busy host, and read console.log for where the boot stopped",
                    "VM start: the agent did not answer");
            default:
                return new StartFailure($"{FirstLine(failure.Message)}{Suffix(failure is VmStartException other ? LastLine(other.Diagnostics) : "")}",
                    "read the lines before this one in the log; `containerd-shim-cc-v2 check` tests the host",
                    "VM start: other failures");
        }
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0].TrimEnd('\r');

    private static string LastLine(string text) =>
        text.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.Length > 0) ?? "";

    private static string Suffix(string detail, string label = "") => detail.Length == 0 ? "" : $" ({label}{detail.Trim()})";
}
