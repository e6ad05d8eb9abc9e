using System.Collections.Immutable;
using Cc.Ttrpc.Generator;
using Google.Protobuf;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace Cc.Ttrpc.Generator.Tests;

/// <summary>One run of the generator over in-memory protos: what it wrote, what it reported, and whether it compiles.</summary>
internal sealed class GeneratorRun
{
    private GeneratorRun(ImmutableArray<Diagnostic> generatorDiagnostics, ImmutableArray<(string HintName, string Text)> sources,
        Compilation output)
    {
        GeneratorDiagnostics = generatorDiagnostics;
        Sources = sources;
        Output = output;
    }

    public ImmutableArray<Diagnostic> GeneratorDiagnostics { get; }

    public ImmutableArray<(string HintName, string Text)> Sources { get; }

    public Compilation Output { get; }

    public string Source(string hintName) => Sources.Single(s => s.HintName == hintName).Text;

    /// <summary>The compiler's errors over the generated code (with the references a protocol project has).</summary>
    public IReadOnlyList<string> CompileErrors() =>
        Output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString()).ToList();

    /// <summary>The compiler's errors over the generated code and a hand-written <paramref name="consumer"/> of it.</summary>
    public IReadOnlyList<string> CompileErrors(string consumer) =>
        Output.AddSyntaxTrees(CSharpSyntaxTree.ParseText(consumer, CSharpParseOptions.Default.WithLanguageVersion(LanguageVersion.Latest)))
            .GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString()).ToList();

    /// <summary>Runs the generator over <paramref name="protos"/> (path, text, TtrpcNamespace metadata or null).</summary>
    public static GeneratorRun Of(params (string Path, string Text, string? Namespace)[] protos)
    {
        var compilation = CSharpCompilation.Create("Generated", [],
            References(), new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        GeneratorDriver driver = CSharpGeneratorDriver.Create(
            [new TtrpcGenerator().AsSourceGenerator()],
            protos.Select(p => (AdditionalText)new InMemoryText(p.Path, p.Text)),
            CSharpParseOptions.Default.WithLanguageVersion(LanguageVersion.Latest),
            new MetadataOptions(protos.Where(p => p.Namespace is not null).ToDictionary(p => p.Path, p => p.Namespace!)));
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out _);
        var result = driver.GetRunResult().Results.Single();
        return new GeneratorRun(result.Diagnostics,
            result.GeneratedSources.Select(s => (s.HintName, s.SourceText.ToString())).ToImmutableArray(), output);
    }

    // The framework, Google.Protobuf and Cc.Ttrpc: what the generated code may use.
    private static IEnumerable<MetadataReference> References()
    {
        var framework = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(path => Path.GetFileName(path).StartsWith("System.", StringComparison.Ordinal) ||
                           Path.GetFileName(path) is "netstandard.dll" or "mscorlib.dll");
        return framework
            .Append(typeof(IMessage).Assembly.Location)
            .Append(typeof(TtrpcClient).Assembly.Location)
            .Distinct()
            .Select(path => MetadataReference.CreateFromFile(path));
    }

    private sealed class InMemoryText(string path, string text) : AdditionalText
    {
        public override string Path => path;

        public override SourceText GetText(CancellationToken cancellationToken = default) => SourceText.From(text);
    }

    // What MSBuild gives the compiler for <AdditionalFiles TtrpcNamespace="..."> once CompilerVisibleItemMetadata names it.
    private sealed class MetadataOptions(Dictionary<string, string> namespaces) : AnalyzerConfigOptionsProvider
    {
        public override AnalyzerConfigOptions GlobalOptions => Options.Empty;

        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => Options.Empty;

        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) =>
            namespaces.TryGetValue(textFile.Path, out var ns)
                ? new Options(new Dictionary<string, string> { [TtrpcGenerator.NamespaceMetadata] = ns })
                : Options.Empty;

        private sealed class Options(Dictionary<string, string> values) : AnalyzerConfigOptions
        {
            public static readonly Options Empty = new([]);

            public override bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value) =>
                values.TryGetValue(key, out value);
        }
    }
}
