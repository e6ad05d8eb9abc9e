using System.Collections;

namespace Cc.Ttrpc;

/// <summary>
/// ttrpc request metadata: a multimap that keeps wire order. Each value travels as its own
/// <c>KeyValue</c> entry; keys are kept as given (the Go reference does not lower-case on receive).
/// Not thread-safe: build it, then hand it to a call.
/// </summary>
public sealed class Metadata : IEnumerable<KeyValuePair<string, string>>
{
    private readonly List<KeyValuePair<string, string>> _entries = [];

    public int Count => _entries.Count;

    public void Add(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        _entries.Add(new(key, value));
    }

    /// <summary>The first value for <paramref name="key"/>, or null.</summary>
    public string? Get(string key)
    {
        foreach (var entry in _entries)
        {
            if (string.Equals(entry.Key, key, StringComparison.Ordinal))
            {
                return entry.Value;
            }
        }

        return null;
    }

    public IReadOnlyList<string> GetAll(string key)
    {
        List<string>? values = null;
        foreach (var entry in _entries)
        {
            if (string.Equals(entry.Key, key, StringComparison.Ordinal))
            {
                (values ??= []).Add(entry.Value);
            }
        }

        return values ?? (IReadOnlyList<string>)[];
    }

    public List<KeyValuePair<string, string>>.Enumerator GetEnumerator() => _entries.GetEnumerator();

    IEnumerator<KeyValuePair<string, string>> IEnumerable<KeyValuePair<string, string>>.GetEnumerator() => GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>Per-call options of the client.</summary>
/// <param name="Timeout">Sent as <c>timeout_nano</c>; also a local deadline that fails the call with DeadlineExceeded.</param>
/// <param name="Metadata">Added after the client's default metadata.</param>
/// <param name="CancellationToken">Cancels the wait; the call then fails with Cancelled (there is no cancel message on the wire).</param>
public readonly record struct CallOptions(
    TimeSpan? Timeout = null,
    Metadata? Metadata = null,
    CancellationToken CancellationToken = default);
