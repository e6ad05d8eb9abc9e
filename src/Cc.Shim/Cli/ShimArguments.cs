namespace Cc.Shim.Cli;

/// <summary>What the process was asked to do: the action word, or its absence.</summary>
public enum ShimAction
{
    /// <summary>No action word: run as the long-running daemon (spawned by <c>start</c>).</summary>
    Daemon,
    Start,
    Delete,
    /// <summary><c>-v</c>: print the version and exit.</summary>
    Version,
    /// <summary><c>-info</c> (containerd 2.x): print a RuntimeInfo protobuf and exit.</summary>
    Info,
}

/// <summary>
/// The command line containerd builds for a shim (protocol.md §2.3):
/// <c>-namespace ns -address grpc.sock -publish-binary containerd -id task [-bundle path] [-debug] start|delete</c>.
/// </summary>
public sealed record ShimArguments
{
    public ShimAction Action { get; init; } = ShimAction.Daemon;
    public string Namespace { get; init; } = "";
    public string Address { get; init; } = "";
    public string PublishBinary { get; init; } = "";
    public string Id { get; init; } = "";
    public string Bundle { get; init; } = "";
    public string Socket { get; init; } = "";
    public bool Debug { get; init; }

    /// <summary>
    /// Parses Go <c>flag</c> syntax: <c>-flag value</c>, <c>-flag=value</c>, <c>--flag</c> forms, boolean flags without a
    /// value, in any order, with the action word anywhere (containerd puts it last, Go's parser requires that; we do
    /// not). <c>--</c> ends the flags. Throws <see cref="ShimUsageException"/> on anything else, never guesses.
    /// </summary>
    public static ShimArguments Parse(IReadOnlyList<string> args)
    {
        var result = new ShimArguments();
        string? action = null;
        bool version = false, info = false, flagsEnded = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (flagsEnded || arg.Length < 2 || arg[0] != '-')
            {
                if (action is not null)
                {
                    throw new ShimUsageException($"unexpected argument \"{arg}\" after action \"{action}\"");
                }
                action = arg;
                continue;
            }
            if (arg == "--")
            {
                flagsEnded = true;
                continue;
            }

            var body = arg.StartsWith("--", StringComparison.Ordinal) ? arg[2..] : arg[1..];
            string name = body;
            string? inline = null;
            var eq = body.IndexOf('=');
            if (eq >= 0)
            {
                name = body[..eq];
                inline = body[(eq + 1)..];
            }

            switch (name)
            {
                case "debug":
                    result = result with { Debug = ParseBool(name, inline) };
                    break;
                case "v":
                    version = ParseBool(name, inline);
                    break;
                case "info":
                    info = ParseBool(name, inline);
                    break;
                case "namespace":
                    result = result with { Namespace = Value(args, ref i, name, inline) };
                    break;
                case "address":
                    result = result with { Address = Value(args, ref i, name, inline) };
                    break;
                case "publish-binary":
                    result = result with { PublishBinary = Value(args, ref i, name, inline) };
                    break;
                case "id":
                    result = result with { Id = Value(args, ref i, name, inline) };
                    break;
                case "bundle":
                    result = result with { Bundle = Value(args, ref i, name, inline) };
                    break;
                case "socket":
                    result = result with { Socket = Value(args, ref i, name, inline) };
                    break;
                case "debug-socket":
                    // Defined by containerd 2.x's shim library, never passed by containerd; accepted and unused.
                    Value(args, ref i, name, inline);
                    break;
                default:
                    throw new ShimUsageException($"flag provided but not defined: -{name}");
            }
        }

        if (version)
        {
            return result with { Action = ShimAction.Version };
        }
        if (info)
        {
            return result with { Action = ShimAction.Info };
        }
        return action switch
        {
            null => result with { Action = ShimAction.Daemon },
            "start" => result with { Action = ShimAction.Start },
            "delete" => result with { Action = ShimAction.Delete },
            _ => throw new ShimUsageException($"unknown action \"{action}\" (expected start or delete)"),
        };
    }

    private static string Value(IReadOnlyList<string> args, ref int i, string name, string? inline)
    {
        if (inline is not null)
        {
            return inline;
        }
        if (i + 1 >= args.Count)
        {
            throw new ShimUsageException($"flag needs an argument: -{name}");
        }
        i++;
        return args[i];
    }

    // Go's strconv.ParseBool spellings, which is what flag accepts after '='.
    private static bool ParseBool(string name, string? inline) => inline switch
    {
        null => true,
        "1" or "t" or "T" or "true" or "TRUE" or "True" => true,
        "0" or "f" or "F" or "false" or "FALSE" or "False" => false,
        _ => throw new ShimUsageException($"invalid boolean value \"{inline}\" for -{name}"),
    };
}

/// <summary>The command line cannot be understood; the process exits 2 like a Go flag error.</summary>
public sealed class ShimUsageException(string message) : Exception(message);
