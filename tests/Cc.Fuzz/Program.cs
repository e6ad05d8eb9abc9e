using Cc.Fuzz;

// Cc.Fuzz afl <target>                  one AFL++ child (SharpFuzz; the assemblies instrumented by hack/fuzz.sh)
// Cc.Fuzz run <target|all> <inputs> [seed] [corpus-dir]   the in-process mutation run; exit 1 on any failure
// Cc.Fuzz corpus <dir>                  writes every target's seeds to <dir>/<target>/
// Cc.Fuzz replay <target> <file>...     runs saved inputs (AFL crashes) and prints what each does
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: Cc.Fuzz afl <target> | run <target|all> <inputs> [seed] [corpus-dir] | corpus <dir> | replay <target> <file>...");
    return 2;
}
switch (args[0])
{
    case "afl":
        var aflTarget = FuzzTargets.Find(args[1]);
        // Expected exceptions are the parser's "malformed" answer; anything else escapes and AFL records a crash.
        SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            try
            {
                aflTarget.Run(buffer.ToArray());
            }
            catch (Exception e) when (aflTarget.IsExpected(e))
            {
            }
        });
        return 0;
    case "run" when args.Length >= 3:
        var targets = args[1] == "all" ? FuzzTargets.All : [FuzzTargets.Find(args[1])];
        var inputs = long.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
        var seed = args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 1;
        var failed = false;
        foreach (var target in targets)
        {
            var corpusDir = args.Length > 4 ? Path.Combine(args[4], target.Name) : null;
            var corpus = corpusDir is not null && Directory.Exists(corpusDir)
                ? Directory.EnumerateFiles(corpusDir).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList()
                : [];
            var result = MutationRun.Run(target, inputs, seed, corpus);
            Console.WriteLine($"fuzz {result.Target}: {result.Inputs} inputs in {result.Elapsed.TotalSeconds:F1} s, " +
                $"{result.Failures.Count} failures");
            foreach (var (failure, input) in result.Failures)
            {
                failed = true;
                Console.WriteLine($"  input {Convert.ToHexString(input)}\n  {failure}");
            }
        }
        return failed ? 1 : 0;
    case "corpus":
        foreach (var target in FuzzTargets.All)
        {
            var dir = Directory.CreateDirectory(Path.Combine(args[1], target.Name)).FullName;
            foreach (var (name, bytes) in target.Seeds())
            {
                File.WriteAllBytes(Path.Combine(dir, name), bytes);
            }
        }
        return 0;
    case "replay" when args.Length >= 3:
        var replayTarget = FuzzTargets.Find(args[1]);
        var bad = 0;
        foreach (var file in args.Skip(2))
        {
            var failure = MutationRun.Check(replayTarget, File.ReadAllBytes(file));
            Console.WriteLine($"{file}: {failure ?? "ok"}");
            bad += failure is null ? 0 : 1;
        }
        return bad == 0 ? 0 : 1;
    default:
        Console.Error.WriteLine($"unknown command {args[0]}");
        return 2;
}
