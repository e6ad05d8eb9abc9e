namespace Cc.Integration.Containerd.Harness;

/// <summary>POSIX shell quoting, for commands shown in messages and for `script -c`.</summary>
internal static class ShellQuote
{
    public static string Quote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=@,+%".Contains(c))
            ? arg
            : "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    public static string Join(IEnumerable<string> args) => string.Join(' ', args.Select(Quote));
}
