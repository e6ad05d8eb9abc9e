using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Cc.Hypervisor.Native;

/// <summary>The libc call .NET does not expose: open(2) with O_APPEND (FileMode.Append only seeks to
/// the end once, which would overwrite what another writer appended since). Linux x86_64/aarch64 values.</summary>
internal static partial class LibC
{
    private const int O_WRONLY = 0x1;
    private const int O_CREAT = 0x40;
    private const int O_APPEND = 0x400;
    private const int O_CLOEXEC = 0x80000;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, int mode);

    /// <summary>Opens <paramref name="path"/> for appending, creating it with mode 0640.</summary>
    public static SafeFileHandle OpenAppend(string path)
    {
        int fd = Open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0b110_100_000);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"open {path} for append failed: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }
        return new SafeFileHandle(fd, ownsHandle: true);
    }
}
