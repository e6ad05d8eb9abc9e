using System.Runtime.InteropServices;
using Cc.Hypervisor.Native;

namespace Cc.Shim.Network;

/// <summary>
/// Runs a piece of work inside a network namespace, on a thread of its own that first <c>setns</c>es into it. That
/// thread is a fresh one, never a pool thread, and it ends right after: no other code ever runs in the pod's namespace
/// by accident. What the work makes there (a tap, a socket) stays bound to that namespace for its whole life, whichever
/// thread uses it later.
/// </summary>
public static class NetnsThread
{
    public static T Run<T>(string netnsPath, string threadName, Func<T> work)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                Enter(netnsPath);
                result = work();
            }
            catch (Exception e)
            {
                failure = e;
            }
        })
        { IsBackground = true, Name = threadName };
        thread.Start();
        thread.Join();
        return failure is not null ? throw failure : result;
    }

    // On the dedicated thread only: setns changes the calling thread's namespace for the rest of its life.
    private static void Enter(string netnsPath)
    {
        var ns = LibC.open(netnsPath, LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
        if (ns < 0)
        {
            throw new IOException($"open network namespace {netnsPath}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
        }
        try
        {
            if (LibC.setns(ns, LibC.CLONE_NEWNET) != 0)
            {
                throw new IOException($"setns {netnsPath}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
            }
        }
        finally
        {
            LibC.close(ns);
        }
    }
}
