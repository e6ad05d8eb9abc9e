using System.Runtime.InteropServices;
using Cc.Hypervisor.Native;
using Microsoft.Win32.SafeHandles;

namespace Cc.Hypervisor.Processes;

/// <summary>pipe2(O_CLOEXEC): both ends stay ours until one is mapped into a child through <see cref="SpawnOptions.Fds"/>.</summary>
public static class AnonymousPipe
{
    public static unsafe (SafeFileHandle Read, SafeFileHandle Write) Create()
    {
        int* fds = stackalloc int[2];
        if (LibC.pipe2(fds, LibC.O_CLOEXEC) != 0)
        {
            throw new IOException($"pipe2: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
        }
        return (new SafeFileHandle(fds[0], ownsHandle: true), new SafeFileHandle(fds[1], ownsHandle: true));
    }
}
