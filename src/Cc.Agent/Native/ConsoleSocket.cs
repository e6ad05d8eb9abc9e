using System.Net.Sockets;
using Microsoft.Win32.SafeHandles;

namespace Cc.Agent.Native;

// The receiving end of crun's --console-socket: crun allocates the pty inside the container, connects
// here and sends the master fd as SCM_RIGHTS ancillary data. Only the master reaches the agent; the
// slave lives in the container, so EOF on the master (EIO) means every process holding the terminal
// has gone.
internal sealed class ConsoleSocket : IDisposable
{
    private const int SolSocket = 1;
    private const int ScmRights = 1;
    // struct cmsghdr on 64-bit Linux: size_t cmsg_len; int cmsg_level; int cmsg_type; then the data.
    private const int CmsgHeaderSize = 16;

    private readonly Socket _listener;

    public ConsoleSocket(string path)
    {
        Path = path;
        File.Delete(path);
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen(1);
    }

    public string Path { get; }

    // The pty master sent by the first connection. Cancel it when crun has failed without connecting.
    public async Task<SafeFileHandle> ReceiveMasterAsync(CancellationToken cancellationToken)
    {
        using var connection = await _listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
        connection.Blocking = true;
        // crun sends right after connecting; the blocking receive runs off the caller's thread.
        return await Task.Run(() => Receive(connection), cancellationToken).ConfigureAwait(false);
    }

    public void Dispose()
    {
        _listener.Dispose();
        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
            // the bundle directory may already be gone
        }
    }

    private static unsafe SafeFileHandle Receive(Socket connection)
    {
        var data = stackalloc byte[256];
        var control = stackalloc byte[64];
        var iov = new LibC.IoVec { Base = data, Length = 256 };
        var header = new LibC.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = 64 };
        var fd = (int)connection.Handle;
        nint received;
        do
        {
            received = LibC.recvmsg(fd, &header, LibC.MSG_CMSG_CLOEXEC);
        }
        while (received < 0 && LibC.LastError == LibC.EINTR);

        if (received < 0)
        {
            throw new IOException($"console socket: recvmsg: {LibC.ErrorText(LibC.LastError)}");
        }

        if (header.ControlLength < CmsgHeaderSize + sizeof(int))
        {
            throw new IOException("console socket: the runtime sent no file descriptor");
        }

        var level = *(int*)(control + 8);
        var type = *(int*)(control + 12);
        if (level != SolSocket || type != ScmRights)
        {
            throw new IOException($"console socket: unexpected control message level {level} type {type}");
        }

        return new SafeFileHandle(*(int*)(control + CmsgHeaderSize), ownsHandle: true);
    }
}
