using Microsoft.Win32.SafeHandles;

namespace Cc.Agent.Guest;

// The guest end of the agent channel: a virtio-serial port found by name. udev would make
// /dev/virtio-ports/<name>; the guest has no udev, so the name is also looked up in sysfs
// (/sys/class/virtio-ports/vportNpM/name) and the device opened as /dev/vportNpM.
public static class VirtioPort
{
    public static string? Find(string name)
    {
        var link = Path.Combine("/dev/virtio-ports", name);
        if (File.Exists(link))
        {
            return link;
        }

        const string sysfs = "/sys/class/virtio-ports";
        if (!Directory.Exists(sysfs))
        {
            return null;
        }

        foreach (var port in Directory.EnumerateDirectories(sysfs))
        {
            var nameFile = Path.Combine(port, "name");
            if (File.Exists(nameFile) && File.ReadAllText(nameFile).Trim() == name)
            {
                var device = Path.Combine("/dev", Path.GetFileName(port));
                return File.Exists(device) ? device : null;
            }
        }

        return null;
    }

    // Opens the port once (the driver allows a single opener) and returns a duplex stream with
    // separate fds for the reading and the writing side, so a blocked read never holds up a write.
    public static Stream Open(string device)
    {
        var handle = File.OpenHandle(device, FileMode.Open, FileAccess.ReadWrite);
        var writeFd = Native.Fd.DupCloexec(handle);
        return new DuplexStream(
            new FileStream(handle, FileAccess.Read, bufferSize: 0),
            new FileStream(new SafeFileHandle(writeFd, ownsHandle: true), FileAccess.Write, bufferSize: 0));
    }
}

// Reads from one stream, writes to another; disposing closes both.
public sealed class DuplexStream(Stream reader, Stream writer) : Stream
{
    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => reader.Read(buffer, offset, count);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        reader.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        reader.ReadAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => writer.Write(buffer, offset, count);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        writer.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        writer.WriteAsync(buffer, offset, count, cancellationToken);

    public override void Flush() => writer.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => writer.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            reader.Dispose();
            writer.Dispose();
        }

        base.Dispose(disposing);
    }
}
