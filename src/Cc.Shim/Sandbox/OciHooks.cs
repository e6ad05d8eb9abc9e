using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cc.Shim.Sandbox;

/// <summary>One entry of the spec's <c>hooks</c> (runtime-spec config.md, "POSIX-platform Hooks").</summary>
/// <param name="Path">The absolute path of the program, run as is (no PATH search).</param>
/// <param name="Args">argv, <c>args[0]</c> included; empty = the path alone.</param>
/// <param name="Env">The hook's whole environment, <c>KEY=value</c> each; nothing of ours is added.</param>
/// <param name="Timeout">Seconds after which the hook is killed and counts as failed; null = none of its own.</param>
public sealed record OciHook(string Path, IReadOnlyList<string> Args, IReadOnlyList<string> Env, int? Timeout);

/// <summary>
/// The hooks the shim runs on the host, as runc does (docs/docker.md, "Networking"): <c>prestart</c> and
/// <c>createRuntime</c> during Create, <c>poststart</c> after Start, <c>poststop</c> at Delete. <c>createContainer</c>
/// and <c>startContainer</c> run in the container's namespaces, which are in the guest, where the host's hook binaries
/// are not: the shim never runs them, and the agent drops every hook (src/Cc.Agent/Runtime/OciSpec.cs).
/// </summary>
public sealed record OciHooks(
    IReadOnlyList<OciHook> Prestart,
    IReadOnlyList<OciHook> CreateRuntime,
    IReadOnlyList<OciHook> Poststart,
    IReadOnlyList<OciHook> Poststop)
{
    public static OciHooks None { get; } = new([], [], [], []);

    /// <summary>The hooks that must have run before the container's network namespace is complete (Docker's SetKey).</summary>
    public bool HasCreateHooks => Prestart.Count > 0 || CreateRuntime.Count > 0;

    /// <summary>Reads <c>hooks</c> from config.json. Pure; a malformed entry is <see cref="InvalidRequestException"/> naming it.</summary>
    public static OciHooks Parse(ReadOnlySpan<byte> configJson)
    {
        JsonObject? hooks;
        try
        {
            hooks = (JsonNode.Parse(configJson) as JsonObject)?["hooks"] as JsonObject;
        }
        catch (JsonException e)
        {
            throw new InvalidRequestException($"config.json is not valid JSON: {e.Message}", e);
        }
        return hooks is null
            ? None
            : new OciHooks(List(hooks, "prestart"), List(hooks, "createRuntime"), List(hooks, "poststart"), List(hooks, "poststop"));
    }

    private static List<OciHook> List(JsonObject hooks, string phase)
    {
        if (hooks[phase] is not JsonArray entries)
        {
            return [];
        }
        List<OciHook> result = [];
        foreach (var (entry, index) in entries.Select((e, i) => (e, i)))
        {
            var where = $"hooks.{phase}[{index}]";
            if (entry is not JsonObject hook || hook["path"] is not JsonValue p || !p.TryGetValue<string>(out var path)
                || !System.IO.Path.IsPathRooted(path))
            {
                throw new InvalidRequestException($"{where}: path must be an absolute path");
            }
            int? timeout = null;
            if (hook["timeout"] is JsonValue t)
            {
                if (!t.TryGetValue<int>(out var seconds) || seconds <= 0)
                {
                    throw new InvalidRequestException($"{where}: timeout must be a positive number of seconds");
                }
                timeout = seconds;
            }
            result.Add(new OciHook(path, Strings(hook, "args", where), Strings(hook, "env", where), timeout));
        }
        return result;
    }

    private static List<string> Strings(JsonObject hook, string field, string where)
    {
        if (hook[field] is null)
        {
            return [];
        }
        if (hook[field] is not JsonArray values)
        {
            throw new InvalidRequestException($"{where}.{field} must be an array of strings");
        }
        return
        [
            .. values.Select(v => v is JsonValue s && s.TryGetValue<string>(out var text)
                ? text
                : throw new InvalidRequestException($"{where}.{field} must be an array of strings")),
        ];
    }
}

/// <summary>
/// The container's state as a hook reads it on stdin (runtime-spec runtime.md, "State"). <c>pid</c> is written only
/// when positive: the spec requires it for <c>created</c> and <c>running</c>, and a stopped container has none.
/// </summary>
public static class OciState
{
    public const string Version = "1.0.2";

    public static byte[] Render(string id, string status, int pid, string bundle, IReadOnlyDictionary<string, string> annotations)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("ociVersion", Version);
            writer.WriteString("id", id);
            writer.WriteString("status", status);
            if (pid > 0)
            {
                writer.WriteNumber("pid", pid);
            }
            writer.WriteString("bundle", bundle);
            writer.WriteStartObject("annotations");
            foreach (var (key, value) in annotations)
            {
                writer.WriteString(key, value);
            }
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>The spec's annotations (string values only, as the runtime-spec defines them).</summary>
    public static IReadOnlyDictionary<string, string> Annotations(ReadOnlySpan<byte> configJson)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if ((JsonNode.Parse(configJson) as JsonObject)?["annotations"] is JsonObject annotations)
        {
            foreach (var (key, value) in annotations)
            {
                if (value is JsonValue v && v.TryGetValue<string>(out var text))
                {
                    result[key] = text;
                }
            }
        }
        return result;
    }
}
