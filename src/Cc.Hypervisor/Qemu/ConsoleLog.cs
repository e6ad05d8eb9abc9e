using System.Text;
using Cc.Hypervisor.Native;
using Microsoft.Win32.SafeHandles;

namespace Cc.Hypervisor.Qemu;

/// <summary>
/// The host side of the console log: QEMU appends the guest's ttyS0 (chardev append=on) and we append
/// QEMU's own stderr lines, prefixed "qemu: ", to the same file. Both writers use O_APPEND, so each
/// write lands at the end and neither overwrites the other.
/// </summary>
internal sealed class ConsoleLog : IDisposable
{
    private readonly SafeFileHandle _handle;
    private readonly Lock _gate = new();

    private ConsoleLog(string path, SafeFileHandle handle)
    {
        Path = path;
        _handle = handle;
    }

    public string Path { get; }

    /// <summary>Starts an empty log at <paramref name="path"/> (a previous VM's log there is replaced).</summary>
    public static ConsoleLog Create(string path)
    {
        File.WriteAllBytes(path, []);
        return new ConsoleLog(path, LibC.OpenAppend(path));
    }

    public void AppendLine(string prefix, string line)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(prefix + line + "\n");
        lock (_gate)
        {
            if (_handle.IsClosed)
            {
                return;
            }
            // With O_APPEND Linux ignores the offset of pwrite and writes at the end.
            RandomAccess.Write(_handle, bytes, 0);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _handle.Dispose();
        }
    }
}
