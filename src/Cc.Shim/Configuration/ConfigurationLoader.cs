using Tomlyn;

namespace Cc.Shim.Configuration;

/// <summary>Where the configuration came from, for the log and for error messages.</summary>
public sealed record LoadedConfiguration(ShimConfiguration Configuration, string Source);

/// <summary>
/// Finds and parses configuration.toml. Lookup order: the runtime options' ConfigPath (from containerd), then
/// <see cref="SystemPath"/>, then <see cref="DefaultsPath"/>, then built-in defaults. A ConfigPath that does not exist is
/// an error (the operator named it), a missing system or defaults file is not.
/// </summary>
public static class ConfigurationLoader
{
    public const string SystemPath = "/etc/cc/configuration.toml";
    public const string DefaultsPath = "/usr/share/defaults/cc/configuration.toml";

    public static LoadedConfiguration Load(string? configPath, ReadOnlySpan<byte> configBody = default,
        IReadOnlyList<string>? fallbacks = null)
    {
        if (!string.IsNullOrEmpty(configPath))
        {
            if (!File.Exists(configPath))
            {
                throw new ConfigurationException($"configuration file {configPath} (runtime option ConfigPath) does not exist");
            }
            return new LoadedConfiguration(Parse(File.ReadAllText(configPath), configPath), configPath);
        }
        if (!configBody.IsEmpty)
        {
            // containerd 1.7+ sends the CRI options table itself when it has no ConfigPath (protocol.md §3.9).
            return new LoadedConfiguration(Parse(System.Text.Encoding.UTF8.GetString(configBody), "runtime options"),
                "runtime options ConfigBody");
        }
        foreach (var path in fallbacks ?? [SystemPath, DefaultsPath])
        {
            if (File.Exists(path))
            {
                return new LoadedConfiguration(Parse(File.ReadAllText(path), path), path);
            }
        }
        return new LoadedConfiguration(new ShimConfiguration(), "built-in defaults");
    }

    public static ShimConfiguration Parse(string toml, string source)
    {
        try
        {
            var configuration = TomlSerializer.Deserialize(toml, ShimConfigurationContext.Default.ShimConfiguration)
                ?? new ShimConfiguration();
            // Values the TOML types cannot check: refused here, naming the file, before any VM or mount.
            Sandbox.PidsSources.Parse(configuration.Runtime.Pids);
            return configuration;
        }
        catch (Exception e) when (e is not ConfigurationException)
        {
            throw new ConfigurationException($"{source}: {e.Message}", e);
        }
    }
}

/// <summary>The configuration cannot be found or parsed; the message names the file.</summary>
public sealed class ConfigurationException(string message, Exception? inner = null) : Exception(message, inner);
