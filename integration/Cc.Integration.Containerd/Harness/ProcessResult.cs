namespace Cc.Integration.Containerd.Harness;

/// <summary>What a finished child process did. <see cref="Stdout"/> is empty when a consumer read it.</summary>
internal sealed record ProcessResult(string Command, int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
{
    /// <summary>A multi-line account of the run for assertion messages, output trimmed to its tail.</summary>
    public string Describe() =>
        $"""
        $ {Command}
        exit code {ExitCode} after {Elapsed.TotalSeconds:F1} s
        --- stdout (tail) ---
        {Tail(Stdout)}
        --- stderr (tail) ---
        {Tail(Stderr)}
        """;

    internal static string Tail(string text, int max = 2000) =>
        text.Length <= max ? text : "…" + text[^max..];
}
