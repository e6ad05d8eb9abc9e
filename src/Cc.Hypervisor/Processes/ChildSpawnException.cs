using Cc.Hypervisor.Native;

namespace Cc.Hypervisor.Processes;

/// <summary>posix_spawn itself failed: the executable is missing, not executable, or not a valid program. glibc reports
/// a failed exec here (<see cref="Errno"/>), never as a child that exits 127.</summary>
public sealed class ChildSpawnException(string executable, int errno)
    : IOException($"cannot start {executable}: {LibC.ErrorText(errno)}")
{
    public string Executable { get; } = executable;

    public int Errno { get; } = errno;
}
