using Google.Protobuf.WellKnownTypes;

namespace Cc.Shim.Configuration;

/// <summary>
/// The daemon's configuration. It is fixed by the first Create that carries runtime options (all tasks of a pod come
/// from one runtime handler, so later ones would name the same file); before that, the default lookup applies.
/// </summary>
public sealed class ConfigurationHolder
{
    private readonly IReadOnlyList<string>? _fallbacks;
    private readonly Lock _lock = new();
    private LoadedConfiguration? _loaded;

    public ConfigurationHolder(IReadOnlyList<string>? fallbacks = null) => _fallbacks = fallbacks;

    /// <summary>The configuration in force; loads the default lookup on first use.</summary>
    public LoadedConfiguration Current
    {
        get
        {
            lock (_lock)
            {
                return _loaded ??= ConfigurationLoader.Load(null, default, _fallbacks);
            }
        }
    }

    /// <summary>Applies the options of a Create; returns the type URL of options we could not use, if any.</summary>
    public string? Apply(Any? options)
    {
        var read = RuntimeOptionsReader.Read(options);
        lock (_lock)
        {
            _loaded ??= ConfigurationLoader.Load(read.ConfigPath, read.ConfigBody, _fallbacks);
        }
        return read.IgnoredTypeUrl;
    }

    /// <summary>Pins a configuration (tests, or a daemon told its file up front).</summary>
    public void Set(LoadedConfiguration configuration)
    {
        lock (_lock)
        {
            _loaded = configuration;
        }
    }
}
