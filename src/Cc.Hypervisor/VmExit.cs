namespace Cc.Hypervisor;

/// <summary>How a hypervisor process ended.</summary>
/// <param name="ExitCode">The process's exit code; 128 + signal when a signal killed it (SIGKILL = 137).</param>
/// <param name="Reason">Why, in words: QEMU's SHUTDOWN reason (guest-shutdown, host-qmp-quit, guest-panic,
/// guest-reset, ...), "killed (SIGKILL) by the driver's stop", or QEMU's last stderr lines.</param>
public sealed record VmExit(int ExitCode, string Reason);
