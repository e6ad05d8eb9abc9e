namespace Cc.Bench;

/// <summary>One subcommand: <c>Cc.Bench &lt;Name&gt; [--option value ...]</c>. The run returns the exit code.</summary>
public sealed record BenchCommand(string Name, string Summary, Func<BenchArgs, CancellationToken, Task<int>> RunAsync);

/// <summary>Dispatches to a subcommand; Ctrl+C and SIGTERM cancel the token it runs with.</summary>
public static class BenchCli
{
    public static async Task<int> RunAsync(IReadOnlyList<BenchCommand> commands, string[] args)
    {
        var command = args.Length > 0 ? commands.FirstOrDefault(c => c.Name == args[0]) : null;
        if (command is null)
        {
            await Console.Error.WriteLineAsync("usage: Cc.Bench <command> [--option value ...]").ConfigureAwait(false);
            foreach (var c in commands)
            {
                await Console.Error.WriteLineAsync($"  {c.Name,-14} {c.Summary}").ConfigureAwait(false);
            }

            return 2;
        }

        using var cancellation = new CancellationTokenSource();
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM, context => { context.Cancel = true; cancellation.Cancel(); });
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancellation.Cancel(); };
        try
        {
            return await command.RunAsync(BenchArgs.Parse(args.AsSpan(1)), cancellation.Token).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync($"{command.Name}: {e.Message}").ConfigureAwait(false);
            return 2;
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync($"{command.Name}: cancelled").ConfigureAwait(false);
            return 130;
        }
    }
}

/// <summary><c>--name value</c> pairs; a flag without a value reads as "true". Unknown names are the
/// command's business: it asks for what it knows.</summary>
public sealed class BenchArgs
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public static BenchArgs Parse(ReadOnlySpan<string> args)
    {
        var parsed = new BenchArgs();
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"expected --option, got \"{args[i]}\"");
            }

            var hasValue = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
            parsed._values[args[i][2..]] = hasValue ? args[++i] : "true";
        }

        return parsed;
    }

    public string? Get(string name) => _values.GetValueOrDefault(name);

    public string Get(string name, string fallback) => _values.GetValueOrDefault(name) ?? fallback;

    public TimeSpan GetSeconds(string name, double fallback) =>
        TimeSpan.FromSeconds(_values.TryGetValue(name, out var text)
            ? double.Parse(text, System.Globalization.CultureInfo.InvariantCulture)
            : fallback);

    public int GetInt(string name, int fallback) =>
        _values.TryGetValue(name, out var text) ? int.Parse(text, System.Globalization.CultureInfo.InvariantCulture) : fallback;
}
