using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Cc.Shim.Operate;

/// <summary>
/// What `check` reads from the guest assets: the kernel's release and the release its initramfs's modules were built
/// for. A module loads only into the kernel whose release its vermagic names, so a mismatch is a guest that boots but
/// cannot mount its shares (9p, virtio-fs are modules in the guest image, docs/guest-image.md).
/// </summary>
public static class GuestImage
{
    private const string LinuxVersion = "Linux version ";
    private const string VerMagic = "vermagic=";
    // newc cpio (the format the kernel unpacks): "070701", then 13 eight-digit hex fields, then the name.
    private const string NewcMagic = "070701";
    private const int NewcHeaderSize = 110;
    private const string Trailer = "TRAILER!!!";

    /// <summary>
    /// The kernel's release (<c>6.1.0-57-amd64</c>), or null when none is found. A bzImage names it in its setup header
    /// (boot protocol: "HdrS" at 0x202, the kernel_version pointer at 0x20E, relative to 0x200); an ELF vmlinux holds
    /// the banner "Linux version &lt;release&gt; …" uncompressed.
    /// </summary>
    public static string? KernelRelease(string path)
    {
        using var file = File.OpenRead(path);
        Span<byte> header = stackalloc byte[0x210];
        if (file.Read(header) == header.Length && header.Slice(0x202, 4).SequenceEqual("HdrS"u8))
        {
            var pointer = BinaryPrimitives.ReadUInt16LittleEndian(header[0x20E..]);
            if (pointer != 0)
            {
                file.Position = pointer + 0x200;
                return FirstWord(ReadCString(file, 256));
            }
        }
        file.Position = 0;
        var banner = Find(file, Encoding.ASCII.GetBytes(LinuxVersion), 256);
        return banner is null ? null : FirstWord(banner[LinuxVersion.Length..]);
    }

    /// <summary>What the initramfs's modules were built for.</summary>
    /// <param name="Releases">The distinct releases named by the modules' vermagic.</param>
    /// <param name="Modules">How many .ko files the archive holds.</param>
    public sealed record ModuleReleases(IReadOnlyList<string> Releases, int Modules);

    /// <summary>
    /// Walks the newc cpio archive (several concatenated ones too) and reads each .ko's vermagic. A compressed archive
    /// is not unpacked: its modules are not counted. Throws <see cref="InvalidDataException"/> on a malformed archive.
    /// </summary>
    public static ModuleReleases InitramfsModuleReleases(string path)
    {
        using var file = File.OpenRead(path);
        var releases = new SortedSet<string>(StringComparer.Ordinal);
        int modules = 0;
        var header = new byte[NewcHeaderSize];
        while (true)
        {
            // Archives may be separated by NUL padding.
            int first;
            while ((first = file.ReadByte()) == 0)
            {
            }
            if (first < 0)
            {
                break;
            }
            header[0] = (byte)first;
            file.ReadExactly(header, 1, NewcHeaderSize - 1);
            if (Encoding.ASCII.GetString(header, 0, 6) != NewcMagic)
            {
                break;
            }
            long size = Field(header, 6);
            int nameSize = (int)Field(header, 11);
            var nameBytes = new byte[nameSize];
            file.ReadExactly(nameBytes);
            var name = Encoding.UTF8.GetString(nameBytes).TrimEnd('\0');
            file.Position += Pad(NewcHeaderSize + nameSize);
            long dataStart = file.Position;
            if (name == Trailer)
            {
                continue;
            }
            if (name.EndsWith(".ko", StringComparison.Ordinal) && size > 0)
            {
                modules++;
                var magic = Find(new BoundedStream(file, size), Encoding.ASCII.GetBytes(VerMagic), 256);
                if (magic is not null && FirstWord(magic[VerMagic.Length..]) is { } release)
                {
                    releases.Add(release);
                }
            }
            file.Position = dataStart + size + Pad(size);
        }
        return new ModuleReleases(releases.ToList(), modules);
    }

    private static long Field(byte[] header, int index) =>
        long.Parse(Encoding.ASCII.GetString(header, 6 + (index * 8), 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    private static long Pad(long length) => (4 - (length % 4)) % 4;

    private static string? FirstWord(string text)
    {
        var word = text.Split([' ', '\0', '\n'], 2)[0];
        return word.Length > 0 ? word : null;
    }

    private static string ReadCString(Stream stream, int max)
    {
        var bytes = new List<byte>();
        int b;
        while (bytes.Count < max && (b = stream.ReadByte()) > 0)
        {
            bytes.Add((byte)b);
        }
        return Encoding.ASCII.GetString(bytes.ToArray());
    }

    /// <summary>The text from the first <paramref name="needle"/> in the stream up to a NUL (at most <paramref name="max"/> bytes after it).</summary>
    private static string? Find(Stream stream, byte[] needle, int max)
    {
        var buffer = new byte[1 << 20];
        int kept = 0;
        while (true)
        {
            int read = stream.Read(buffer, kept, buffer.Length - kept);
            if (read <= 0)
            {
                return null;
            }
            int length = kept + read;
            int at = buffer.AsSpan(0, length).IndexOf(needle);
            if (at >= 0)
            {
                // The match must be complete up to its terminator, or at least max bytes long; else read more first.
                var rest = buffer.AsSpan(at, Math.Min(needle.Length + max, length - at));
                int end = rest.IndexOf((byte)0);
                if (end >= 0 || rest.Length == needle.Length + max)
                {
                    return Encoding.ASCII.GetString(end >= 0 ? rest[..end] : rest);
                }
                Buffer.BlockCopy(buffer, at, buffer, 0, length - at);
                kept = length - at;
                continue;
            }
            // Keep a tail that could start a match split across reads.
            kept = Math.Min(needle.Length - 1, length);
            Buffer.BlockCopy(buffer, length - kept, buffer, 0, kept);
        }
    }

    /// <summary>A read-only window of <paramref name="length"/> bytes from the inner stream's position.</summary>
    private sealed class BoundedStream(Stream inner, long length) : Stream
    {
        private long _left = length;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int read = inner.Read(buffer, offset, (int)Math.Min(count, _left));
            _left -= read;
            return read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
