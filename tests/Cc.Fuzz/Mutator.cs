using System.Buffers.Binary;

namespace Cc.Fuzz;

/// <summary>
/// Deterministic byte mutations of a seed, in the spirit of AFL's havoc stage: bit flips, random bytes, interesting
/// values (0, 0xff, 0x7f, 0x80, lengths around 2^n) written as 1, 2 or 4 bytes in either byte order, block deletion,
/// duplication and insertion, splicing with another seed, truncation. Same seed number, same inputs.
/// </summary>
public sealed class Mutator(int seed)
{
    private static readonly uint[] s_interesting = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 10, 64, 4 << 20,
        (4 << 20) + 1, 0x7fffffff, 0x80000000, 0xffffffff];

    private readonly Random _random = new(seed);

    public byte[] Mutate(byte[] input, IReadOnlyList<byte[]> others)
    {
        var data = new List<byte>(input);
        var rounds = 1 << _random.Next(0, 4);
        for (var i = 0; i < rounds; i++)
        {
            MutateOnce(data, others);
        }
        return [.. data];
    }

    private void MutateOnce(List<byte> data, IReadOnlyList<byte[]> others)
    {
        switch (_random.Next(9))
        {
            case 0 when data.Count > 0:
                var bit = _random.Next(data.Count * 8);
                data[bit / 8] ^= (byte)(1 << (bit % 8));
                break;
            case 1 when data.Count > 0:
                data[_random.Next(data.Count)] = (byte)_random.Next(256);
                break;
            case 2 when data.Count > 0:
                WriteInteresting(data);
                break;
            case 3 when data.Count > 1:
                var start = _random.Next(data.Count);
                data.RemoveRange(start, _random.Next(1, Math.Min(32, data.Count - start) + 1));
                break;
            case 4 when data.Count > 0:
                var from = _random.Next(data.Count);
                var block = data.GetRange(from, _random.Next(1, Math.Min(64, data.Count - from) + 1));
                data.InsertRange(_random.Next(data.Count + 1), block);
                break;
            case 5:
                var count = _random.Next(1, 17);
                var bytes = new byte[count];
                _random.NextBytes(bytes);
                data.InsertRange(_random.Next(data.Count + 1), bytes);
                break;
            case 6 when others.Count > 0:
                var other = others[_random.Next(others.Count)];
                if (other.Length > 0)
                {
                    var cut = _random.Next(data.Count + 1);
                    var otherCut = _random.Next(other.Length);
                    data.RemoveRange(cut, data.Count - cut);
                    data.AddRange(other.AsSpan(otherCut).ToArray());
                }
                break;
            case 7 when data.Count > 0:
                var keep = _random.Next(data.Count);
                data.RemoveRange(keep, data.Count - keep);
                break;
            default:
                if (data.Count > 0)
                {
                    var at = _random.Next(data.Count);
                    data[at] = (byte)(data[at] + _random.Next(-35, 36));
                }
                break;
        }
    }

    private void WriteInteresting(List<byte> data)
    {
        var value = s_interesting[_random.Next(s_interesting.Length)];
        var width = 1 << _random.Next(3);
        Span<byte> bytes = stackalloc byte[4];
        if (_random.Next(2) == 0)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
            bytes = bytes[(4 - width)..];
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
            bytes = bytes[..width];
        }
        var at = _random.Next(data.Count);
        for (var i = 0; i < bytes.Length && at + i < data.Count; i++)
        {
            data[at + i] = bytes[i];
        }
    }
}
