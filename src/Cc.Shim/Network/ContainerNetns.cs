using System.Runtime.InteropServices;
using Cc.Hypervisor.Native;
using Cc.Hypervisor.Processes;
using Microsoft.Win32.SafeHandles;

namespace Cc.Shim.Network;

/// <summary>
/// A network namespace the shim makes on the host for a container whose spec asks for a new one and carries create
/// hooks (Docker: docs/docker.md, "Networking"), as runc makes it before it runs them. It is bound to
/// <see cref="Path"/> (<c>&lt;run dir&gt;/netns</c>), so it outlives every process in it, and <see cref="HolderPid"/> is
/// a process living in it: the <c>pid</c> of the state the hooks read, through whose <c>/proc/&lt;pid&gt;/ns/net</c>
/// dockerd's <c>libnetwork-setkey</c> finds the namespace and moves the container's veth into it.
/// </summary>
/// <remarks>
/// The holder is <c>unshare --net=&lt;file&gt;</c> exec'ing a shell that says "ready" and then becomes <c>cat</c> on a
/// pipe whose only write end is ours: it ends when <see cref="ReleaseHolder"/> closes that end, or when the daemon dies
/// (the kernel closes it), so no holder outlives the shim. The bind mount is made in the daemon's own mount namespace
/// (Sandbox/HostMountNamespace): it ends with the daemon and QEMU even when nothing cleans up, and the host's mount
/// table never holds it.
/// </remarks>
public sealed class ContainerNetns
{
    public const string FileName = "netns";

    /// <summary>How long the holder may take to make the namespace, and to end once released.</summary>
    public static readonly TimeSpan HolderBound = TimeSpan.FromSeconds(10);

    private readonly ChildProcess _holder;
    private readonly SafeFileHandle _holderStdin;
    private int _removed;

    private ContainerNetns(string path, ChildProcess holder, SafeFileHandle holderStdin)
    {
        Path = path;
        _holder = holder;
        _holderStdin = holderStdin;
    }

    /// <summary>The namespace's file; what the container's spec names from now on.</summary>
    public string Path { get; }

    /// <summary>A process in the namespace until <see cref="ReleaseHolder"/>.</summary>
    public int HolderPid => _holder.Pid;

    /// <summary>Makes the namespace at <c>&lt;runDirectory&gt;/netns</c> and its holder; blocks up to <see cref="HolderBound"/>.</summary>
    /// <exception cref="NetworkSetupException">It could not be made; nothing is left.</exception>
    public static ContainerNetns Create(string runDirectory)
    {
        var path = System.IO.Path.Combine(runDirectory, FileName);
        File.WriteAllBytes(path, []);
        var (inRead, inWrite) = AnonymousPipe.Create();
        var (outRead, outWrite) = AnonymousPipe.Create();
        ChildProcess holder;
        try
        {
            holder = ChildSpawner.Spawn(new SpawnOptions
            {
                Executable = NsenterRunner.Tool("unshare"),
                // unshare binds the namespace to the file before it execs: "ready" means both are done.
                Arguments = ["--net=" + path, "--", NsenterRunner.Tool("sh"), "-c", "echo ready && exec cat >/dev/null 2>&1"],
                Fds = [new InheritedFd(0, inRead), new InheritedFd(1, outWrite), new InheritedFd(2, outWrite)],
            });
        }
        catch (ChildSpawnException e)
        {
            inWrite.Dispose();
            outRead.Dispose();
            File.Delete(path);
            throw new NetworkSetupException($"cannot start unshare for {path}: {e.Message}", e);
        }
        finally
        {
            inRead.Dispose();
            outWrite.Dispose();
        }
        var netns = new ContainerNetns(path, holder, inWrite);
        string said;
        using (var reader = new StreamReader(new FileStream(outRead, FileAccess.Read, bufferSize: 0)))
        {
            var read = reader.ReadToEndAsync();
            said = read.Wait(HolderBound) ? read.Result : "(nothing within the bound)";
        }
        if (said.Trim() != "ready" || holder.HasExited)
        {
            netns.Remove();
            throw new NetworkSetupException($"unshare --net={path} failed: {said.Trim()}");
        }
        return netns;
    }

    /// <summary>Ends the holder (the namespace stays, bound to <see cref="Path"/>); idempotent.</summary>
    public void ReleaseHolder()
    {
        _holderStdin.Dispose();
        if (!_holder.Exited.Wait(HolderBound))
        {
            _holder.SignalGroup(LibC.SIGKILL);
            _holder.Exited.Wait(HolderBound);
        }
    }

    /// <summary>
    /// Ends the holder, unbinds the namespace and deletes the file; idempotent. The namespace itself goes once nothing
    /// else holds it (dockerd's own bind under its exec root goes at <c>docker rm</c>).
    /// </summary>
    public void Remove()
    {
        if (Interlocked.Exchange(ref _removed, 1) != 0)
        {
            return;
        }
        ReleaseHolder();
        _holder.Dispose();
        // EINVAL: not (or no longer) a mount point, as after a holder that failed before it bound the file.
        if (LibC.umount2(Path, LibC.MNT_DETACH) != 0 && Marshal.GetLastPInvokeError() is var errno && errno != 22 && errno != 2)
        {
            throw new NetworkSetupException($"umount {Path}: {LibC.ErrorText(errno)}");
        }
        File.Delete(Path);
    }
}
