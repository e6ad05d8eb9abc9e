using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cc.Hypervisor.Qmp;

// The QMP wire objects, named as qapi/*.json names them. Only the fields we read are declared;
// unknown fields are ignored so newer QEMUs stay compatible.

/// <summary>What a client sends: <c>{"execute": "query-status", "arguments": {...}, "id": 7}</c>.</summary>
internal sealed class QmpRequest
{
    [JsonPropertyName("execute")] public required string Execute { get; init; }
    [JsonPropertyName("arguments")] public JsonElement? Arguments { get; init; }
    [JsonPropertyName("id")] public long Id { get; init; }
}

/// <summary>
/// Anything QEMU sends, as a union: the greeting has <c>QMP</c>; a success has <c>return</c> (+ our
/// <c>id</c>); a failure has <c>error</c> (+ <c>id</c>, absent when QEMU could not parse our request);
/// an event has <c>event</c>, <c>data</c> and <c>timestamp</c>.
/// </summary>
internal sealed class QmpInbound
{
    [JsonPropertyName("QMP")] public QmpGreeting? Greeting { get; init; }
    [JsonPropertyName("return")] public JsonElement? Return { get; init; }
    [JsonPropertyName("error")] public QmpErrorBody? Error { get; init; }
    [JsonPropertyName("id")] public JsonElement? Id { get; init; }
    [JsonPropertyName("event")] public string? Event { get; init; }
    [JsonPropertyName("data")] public JsonElement? Data { get; init; }
    [JsonPropertyName("timestamp")] public QmpTimestamp? Timestamp { get; init; }
}

internal sealed class QmpGreeting
{
    [JsonPropertyName("version")] public QmpVersionInfo? Version { get; init; }
    [JsonPropertyName("capabilities")] public List<string>? Capabilities { get; init; }
}

internal sealed class QmpVersionInfo
{
    [JsonPropertyName("qemu")] public QmpVersionTriple? Qemu { get; init; }
    [JsonPropertyName("package")] public string? Package { get; init; }
}

internal sealed class QmpVersionTriple
{
    [JsonPropertyName("major")] public int Major { get; init; }
    [JsonPropertyName("minor")] public int Minor { get; init; }
    [JsonPropertyName("micro")] public int Micro { get; init; }
}

internal sealed class QmpErrorBody
{
    [JsonPropertyName("class")] public string? Class { get; init; }
    [JsonPropertyName("desc")] public string? Desc { get; init; }
}

internal sealed class QmpTimestamp
{
    [JsonPropertyName("seconds")] public long Seconds { get; init; }
    [JsonPropertyName("microseconds")] public long Microseconds { get; init; }
}

/// <summary>query-status's StatusInfo.</summary>
internal sealed class QmpStatusInfo
{
    [JsonPropertyName("status")] public string Status { get; init; } = "";
    [JsonPropertyName("running")] public bool Running { get; init; }
}

/// <summary>device_del's arguments.</summary>
internal sealed class QmpDeviceIdArguments
{
    [JsonPropertyName("id")] public required string Id { get; init; }
}

/// <summary>The SHUTDOWN event's data: <c>guest</c> is true when the guest asked for it.</summary>
internal sealed class QmpShutdownData
{
    [JsonPropertyName("guest")] public bool Guest { get; init; }
    [JsonPropertyName("reason")] public string? Reason { get; init; }
}

/// <summary>migrate-set-capabilities' arguments: <c>{"capabilities": [{"capability": "x-ignore-shared", "state": true}]}</c>.</summary>
internal sealed class QmpMigrationCapabilities
{
    [JsonPropertyName("capabilities")] public required List<QmpMigrationCapability> Capabilities { get; init; }
}

internal sealed class QmpMigrationCapability
{
    [JsonPropertyName("capability")] public required string Capability { get; init; }
    [JsonPropertyName("state")] public bool State { get; init; }
}

/// <summary>migrate's and migrate-incoming's arguments.</summary>
internal sealed class QmpMigrationUri
{
    [JsonPropertyName("uri")] public required string Uri { get; init; }
}

/// <summary>query-migrate's MigrationInfo: status is absent before any migration.</summary>
internal sealed class QmpMigrationInfo
{
    [JsonPropertyName("status")] public string? Status { get; init; }
    [JsonPropertyName("error-desc")] public string? ErrorDesc { get; init; }
}

/// <summary>Source-generated (AOT-clean) serialization for every QMP type above.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(QmpRequest))]
[JsonSerializable(typeof(QmpInbound))]
[JsonSerializable(typeof(QmpStatusInfo))]
[JsonSerializable(typeof(QmpDeviceIdArguments))]
[JsonSerializable(typeof(QmpShutdownData))]
[JsonSerializable(typeof(QmpMigrationCapabilities))]
[JsonSerializable(typeof(QmpMigrationUri))]
[JsonSerializable(typeof(QmpMigrationInfo))]
[JsonSerializable(typeof(Dictionary<string, JsonElement>))]
[JsonSerializable(typeof(long))]
internal sealed partial class QmpJsonContext : JsonSerializerContext;
