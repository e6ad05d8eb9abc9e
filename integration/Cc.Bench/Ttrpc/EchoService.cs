using System.Globalization;
using System.Text;
using Cc.Ttrpc;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Bench.Ttrpc;

/// <summary>
/// Our twin of the Go reference peer's test service (hack/ttrpc-peer/service.go and
/// streams_v12.go): same service name, same methods, same payload conventions, so that every
/// interop test and benchmark workload runs unchanged against either server. Every message is a
/// <see cref="BytesValue"/> whose bytes are the method's argument:
/// Echo (any bytes → the same), Fail ("code:message" → that status), Sleep (a Go duration such as
/// "300ms"; honours the call's deadline), SleepResult (how the last Sleep ended), Deadline (ns left
/// until the handler's deadline, or "none"), Metadata ("key=value" lines, keys sorted ordinally,
/// values of a key in wire order), Big (a decimal N → N pattern bytes); streaming: ServerStream
/// ("N" → messages "0" … "N-1"), ClientStream (values joined by ","), Bidi (each message echoed).
/// Also linked into the interop tests (integration/Cc.Integration.Ttrpc).
/// </summary>
public sealed class EchoService(TimeProvider timeProvider)
{
    public const string Name = "cc.test.v1.Echo";

    private static readonly TimeSpan DeadlineSlack = TimeSpan.FromMilliseconds(50);
    private readonly Lock _gate = new();
    private string _lastSleep = "";

    public EchoService()
        : this(TimeProvider.System)
    {
    }

    /// <summary>How the latest Sleep ended (guarded by <see cref="_gate"/>): tests read it to see that
    /// the server itself, not only the client's timer, honoured the deadline.</summary>
    public string LastSleep
    {
        get
        {
            lock (_gate)
            {
                return _lastSleep;
            }
        }
    }

    /// <summary>Forgets the last Sleep outcome, so that a test reads its own call's.</summary>
    public void ResetLastSleep() => SetLastSleep("");

    public ServiceDefinition Build() => ServiceDefinition.CreateBuilder(Name)
        .AddUnary<BytesValue, BytesValue>("Echo", BytesValue.Parser, static (request, _) => ValueTask.FromResult(request))
        .AddUnary<BytesValue, BytesValue>("Fail", BytesValue.Parser, static (request, _) => throw ParseFailure(request.Value.ToStringUtf8()))
        .AddUnary<BytesValue, BytesValue>("Sleep", BytesValue.Parser, SleepAsync)
        .AddUnary<BytesValue, BytesValue>("SleepResult", BytesValue.Parser, (_, _) => ValueTask.FromResult(Text(LastSleep)))
        .AddUnary<BytesValue, BytesValue>("Deadline", BytesValue.Parser, (_, context) => ValueTask.FromResult(Text(Remaining(context))))
        .AddUnary<BytesValue, BytesValue>("Metadata", BytesValue.Parser, static (_, context) => ValueTask.FromResult(Text(FormatMetadata(context.RequestMetadata))))
        .AddUnary<BytesValue, BytesValue>("Big", BytesValue.Parser, static (request, _) => ValueTask.FromResult(Big(request.Value.ToStringUtf8())))
        .AddServerStreaming<BytesValue, BytesValue>("ServerStream", BytesValue.Parser, ServerStreamAsync)
        .AddClientStreaming<BytesValue, BytesValue>("ClientStream", BytesValue.Parser, ClientStreamAsync)
        .AddDuplexStreaming<BytesValue, BytesValue>("Bidi", BytesValue.Parser, BidiAsync)
        .Build();

    /// <summary>Byte i of every generated payload is i mod 251 (a prime: a shifted or truncated copy does
    /// not match by accident). The Go peer's <c>pattern</c> is the same.</summary>
    public static byte[] Pattern(int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(i % 251);
        }

        return bytes;
    }

    public static BytesValue Text(string text) => new() { Value = ByteString.CopyFromUtf8(text) };

    public static string FormatMetadata(Metadata metadata)
    {
        var builder = new StringBuilder();
        foreach (var key in metadata.Select(entry => entry.Key).Distinct().Order(StringComparer.Ordinal))
        {
            foreach (var value in metadata.GetAll(key))
            {
                builder.Append(key).Append('=').Append(value).Append('\n');
            }
        }

        return builder.ToString();
    }

    /// <summary>Go's duration syntax for one number and one unit ("10s", "300ms", "1.5s"): all the tests use.</summary>
    public static TimeSpan ParseGoDuration(string text)
    {
        var unitStart = text.AsSpan().IndexOfAnyExcept("0123456789.");
        if (unitStart <= 0 || !double.TryParse(text.AsSpan(0, unitStart), NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            throw new TtrpcException(StatusCode.InvalidArgument, $"Sleep wants a duration such as 300ms, got \"{text}\"");
        }

        return text[unitStart..] switch
        {
            "ns" => TimeSpan.FromTicks((long)(number / 100)),
            "us" or "µs" => TimeSpan.FromMicroseconds(number),
            "ms" => TimeSpan.FromMilliseconds(number),
            "s" => TimeSpan.FromSeconds(number),
            "m" => TimeSpan.FromMinutes(number),
            "h" => TimeSpan.FromHours(number),
            var unit => throw new TtrpcException(StatusCode.InvalidArgument, $"Sleep: unknown unit \"{unit}\""),
        };
    }

    private static TtrpcException ParseFailure(string argument)
    {
        var colon = argument.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 && int.TryParse(argument.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var code)
            ? new TtrpcException((StatusCode)code, argument[(colon + 1)..])
            : new TtrpcException(StatusCode.InvalidArgument, $"Fail wants <code>:<message>, got \"{argument}\"");
    }

    private static BytesValue Big(string argument) =>
        int.TryParse(argument, NumberStyles.None, CultureInfo.InvariantCulture, out var length)
            ? new BytesValue { Value = ByteString.CopyFrom(Pattern(length)) }
            : throw new TtrpcException(StatusCode.InvalidArgument, $"Big wants a byte count, got \"{argument}\"");

    private string Remaining(ServerCallContext context) => context.Deadline is { } deadline
        ? ((long)((deadline - timeProvider.GetUtcNow()).Ticks * 100)).ToString(CultureInfo.InvariantCulture)
        : "none";

    private async ValueTask<BytesValue> SleepAsync(BytesValue request, ServerCallContext context)
    {
        var duration = ParseGoDuration(request.Value.ToStringUtf8());
        var start = timeProvider.GetTimestamp();
        try
        {
            await Task.Delay(duration, timeProvider, context.CancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The library maps this exception to DeadlineExceeded or Cancelled; record which one the
            // handler saw first so a test can tell the server's deadline from the client's timer.
            var elapsed = (long)timeProvider.GetElapsedTime(start).TotalMilliseconds;
            // The token's timer and the wall-clock Deadline are armed a moment apart, so the token may
            // fire a little before Deadline reads as passed: allow DeadlineSlack.
            var expired = context.Deadline is { } deadline && timeProvider.GetUtcNow() >= deadline - DeadlineSlack;
            SetLastSleep(expired ? $"deadline-exceeded after {elapsed}ms" : $"cancelled after {elapsed}ms");
            throw;
        }

        SetLastSleep("completed");
        return Text("slept");
    }

    private void SetLastSleep(string outcome)
    {
        lock (_gate)
        {
            _lastSleep = outcome;
        }
    }

    private static async Task ServerStreamAsync(BytesValue request, IServerStreamWriter<BytesValue> writer, ServerCallContext context)
    {
        if (!int.TryParse(request.Value.ToStringUtf8(), NumberStyles.None, CultureInfo.InvariantCulture, out var count))
        {
            throw new TtrpcException(StatusCode.InvalidArgument, $"ServerStream wants a message count, got \"{request.Value.ToStringUtf8()}\"");
        }

        for (var i = 0; i < count; i++)
        {
            await writer.WriteAsync(Text(i.ToString(CultureInfo.InvariantCulture)), context.CancellationToken).ConfigureAwait(false);
        }
    }

    private static async ValueTask<BytesValue> ClientStreamAsync(IAsyncStreamReader<BytesValue> reader, ServerCallContext context)
    {
        var values = new List<string>();
        await foreach (var message in reader.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
        {
            values.Add(message.Value.ToStringUtf8());
        }

        return Text(string.Join(',', values));
    }

    private static async Task BidiAsync(IAsyncStreamReader<BytesValue> reader, IServerStreamWriter<BytesValue> writer, ServerCallContext context)
    {
        await foreach (var message in reader.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
        {
            await writer.WriteAsync(message, context.CancellationToken).ConfigureAwait(false);
        }
    }
}
