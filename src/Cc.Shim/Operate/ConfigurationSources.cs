using Cc.Shim.Configuration;
using Tomlyn.Parsing;

namespace Cc.Shim.Operate;

/// <summary>
/// Where each key's value comes from, following the daemon's lookup (docs/configuration.md): the runtime options'
/// ConfigPath when one is given, else the first of /etc/cc/configuration.toml and the defaults file that exists, else
/// the built-in defaults; within the chosen file, a key that is absent keeps its default.
/// </summary>
public static class ConfigurationSources
{
    public const string Default = "default";

    /// <summary>One line of `env`: the key, its value, and its source.</summary>
    public sealed record Entry(string Key, string Value, string Source);

    /// <param name="configPath">What containerd's runtime options would carry as ConfigPath (`env --config`), or null.</param>
    /// <param name="fallbacks">The system and defaults files (tests pass their own).</param>
    public static IReadOnlyList<Entry> Resolve(string? configPath, IReadOnlyList<string>? fallbacks = null)
    {
        var fromFiles = Describe(ConfigurationLoader.Load(null, default, fallbacks), "file");
        var chosen = configPath is null ? fromFiles : Describe(ConfigurationLoader.Load(configPath), "runtime options ConfigPath");
        return ConfigurationKeys.All.Select(key =>
        {
            var (configuration, present, source) = ConfigurationKeys.DaemonFileOnly.Contains(key.FullName) ? fromFiles : chosen;
            return new Entry(key.FullName, key.Value(configuration), present.Contains(key.FullName) ? source : Default);
        }).ToList();
    }

    private static (ShimConfiguration Configuration, HashSet<string> Present, string Source) Describe(LoadedConfiguration loaded, string kind) =>
        File.Exists(loaded.Source)
            ? (loaded.Configuration, KeysIn(File.ReadAllText(loaded.Source), loaded.Source), $"{kind} {loaded.Source}")
            : (loaded.Configuration, [], Default);

    /// <summary>The <c>table.key</c> names a TOML text sets (the parse has already succeeded in the loader).</summary>
    internal static HashSet<string> KeysIn(string toml, string path)
    {
        var document = SyntaxParser.Parse(toml, path, false);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var keyValue in document.KeyValues)
        {
            keys.Add(Normalize(keyValue.Key?.ToString()));
        }
        foreach (var table in document.Tables)
        {
            var prefix = Normalize(table.Name?.ToString());
            foreach (var keyValue in table.Items)
            {
                keys.Add($"{prefix}.{Normalize(keyValue.Key?.ToString())}");
            }
        }
        return keys;
    }

    // Keys as written may carry spaces around dots and quotes ("hypervisor" . kernel); ours are bare snake_case words.
    private static string Normalize(string? key) =>
        string.Join('.', (key ?? "").Split('.').Select(part => part.Trim().Trim('"', '\'')));
}
