using System.Security.Cryptography;

namespace Cc.Bench.Cri;

/// <summary>
/// Follows one container's CRI log file while containerd writes it and rebuilds the stream the container wrote: each
/// line is <c>&lt;time&gt; &lt;stream&gt; &lt;P|F&gt; &lt;content&gt;\n</c>, where P (partial) is content cut at containerd's
/// maximum line length and F (full) is content that ended with a newline in the stream. Counts and hashes the rebuilt
/// bytes of one stream, so a bench can prove that every byte arrived, unchanged and in order.
/// </summary>
internal sealed class CriLogReader(string path, string stream) : IDisposable
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _buffer = new byte[1 << 20];
    private readonly byte[] _stream = System.Text.Encoding.ASCII.GetBytes(stream);
    private FileStream? _file;
    private int _filled; // bytes of _buffer not yet parsed (an incomplete last line)

    /// <summary>Bytes of the stream rebuilt so far.</summary>
    public long Bytes { get; private set; }

    /// <summary>Lines that did not parse as CRI log lines (must stay 0).</summary>
    public long Malformed { get; private set; }

    /// <summary>Reads what containerd has appended since the last call; returns false when nothing was new.</summary>
    public bool Poll()
    {
        if (_file is null)
        {
            if (!File.Exists(path))
            {
                return false;
            }
            _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);
        }
        var any = false;
        while (true)
        {
            var n = _file.Read(_buffer, _filled, _buffer.Length - _filled);
            if (n == 0)
            {
                return any;
            }
            any = true;
            _filled += n;
            var consumed = ParseLines(_buffer.AsSpan(0, _filled));
            _buffer.AsSpan(consumed, _filled - consumed).CopyTo(_buffer);
            _filled -= consumed;
            if (_filled == _buffer.Length)
            {
                throw new InvalidDataException($"{path}: a log line longer than {_buffer.Length} bytes");
            }
        }
    }

    /// <summary>The SHA-256 of the rebuilt stream so far, lower-case hex.</summary>
    public string Sha256() => Convert.ToHexStringLower(_hash.GetCurrentHash());

    // Parses the complete lines at the start of `data`; returns how many bytes they took.
    private int ParseLines(ReadOnlySpan<byte> data)
    {
        var consumed = 0;
        while (true)
        {
            var end = data[consumed..].IndexOf((byte)'\n');
            if (end < 0)
            {
                return consumed;
            }
            Line(data.Slice(consumed, end));
            consumed += end + 1;
        }
    }

    private void Line(ReadOnlySpan<byte> line)
    {
        // <time> SP <stream> SP <tag> SP <content>; the content may hold spaces, so split only the first three.
        var first = line.IndexOf((byte)' ');
        if (first < 0)
        {
            Malformed++;
            return;
        }
        var rest = line[(first + 1)..];
        var second = rest.IndexOf((byte)' ');
        if (second < 0 || rest.Length < second + 3 || rest[second + 2] != (byte)' ')
        {
            Malformed++;
            return;
        }
        if (!rest[..second].SequenceEqual(_stream))
        {
            return; // the other stream
        }
        var tag = rest[second + 1];
        var content = rest.Length > second + 3 ? rest[(second + 3)..] : [];
        _hash.AppendData(content);
        Bytes += content.Length;
        if (tag == (byte)'F')
        {
            _hash.AppendData("\n"u8);
            Bytes++;
        }
        else if (tag != (byte)'P')
        {
            Malformed++;
        }
    }

    public void Dispose()
    {
        _file?.Dispose();
        _hash.Dispose();
    }
}
