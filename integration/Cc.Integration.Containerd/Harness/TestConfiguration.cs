namespace Cc.Integration.Containerd.Harness;

/// <summary>
/// A shim configuration of one test's own: build/configuration.toml (this checkout's guest, QEMU and run_dir) with
/// lines added to its tables or the whole text replaced, in a directory of its own that disposal removes. The shim
/// reads it as the task's ConfigPath (<see cref="RuntimeUnderTest.WithConfiguration"/>).
/// </summary>
internal sealed class TestConfiguration : IDisposable
{
    private readonly string _directory;

    private TestConfiguration(string text)
    {
        _directory = Directory.CreateTempSubdirectory("cc-it-config-").FullName;
        Path = System.IO.Path.Combine(_directory, "configuration.toml");
        File.WriteAllText(Path, text);
    }

    public string Path { get; }

    /// <summary>build/configuration.toml with <paramref name="linesByTable"/> ("agent" → "key = value" lines) added below each table's header.</summary>
    public static TestConfiguration WithLines(IReadOnlyDictionary<string, string[]> linesByTable)
    {
        var lines = File.ReadAllLines(RepoPaths.ShimConfiguration).ToList();
        foreach (var (table, added) in linesByTable)
        {
            var header = lines.FindIndex(l => l.Trim() == $"[{table}]");
            if (header < 0)
            {
                lines.Add($"[{table}]");
                header = lines.Count - 1;
            }
            lines.InsertRange(header + 1, added);
        }
        return new TestConfiguration(string.Join('\n', lines) + "\n");
    }

    /// <summary>build/configuration.toml with every line for which <paramref name="edit"/> returns something else replaced.</summary>
    public static TestConfiguration Edited(Func<string, string> edit) =>
        new(string.Join('\n', File.ReadAllLines(RepoPaths.ShimConfiguration).Select(edit)) + "\n");

    /// <summary>Exactly <paramref name="text"/> (for a configuration that is broken on purpose).</summary>
    public static TestConfiguration Raw(string text) => new(text);

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
