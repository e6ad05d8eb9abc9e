using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;

namespace Cc.Ttrpc.Generator;

/// <summary>
/// Generates ttrpc service bindings and clients from the .proto files a project passes as <c>AdditionalFiles</c>
/// (Grpc.Tools still generates the messages). An item's <c>TtrpcNamespace</c> metadata puts its services' types in
/// another namespace than its messages'. Why a source generator and not a protoc plugin: README.md beside this file.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class TtrpcGenerator : IIncrementalGenerator
{
    /// <summary>The MSBuild item metadata, as the compiler exposes it once CompilerVisibleItemMetadata names it.</summary>
    internal const string NamespaceMetadata = "build_metadata.AdditionalFiles.TtrpcNamespace";

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var protos = context.AdditionalTextsProvider
            .Where(static file => file.Path.EndsWith(".proto", StringComparison.OrdinalIgnoreCase))
            .Combine(context.AnalyzerConfigOptionsProvider)
            .Select(static (pair, cancellationToken) =>
            {
                var (file, options) = pair;
                options.GetOptions(file).TryGetValue(NamespaceMetadata, out var serviceNamespace);
                var text = file.GetText(cancellationToken)?.ToString() ?? "";
                return ProtoParser.Parse(file.Path, text, string.IsNullOrWhiteSpace(serviceNamespace) ? null : serviceNamespace);
            });

        context.RegisterSourceOutput(protos.Collect(), static (output, files) => Generate(output, files));
    }

    // Every file is parsed alone; types resolve across all of them (task v3 names v2's messages), so emission waits
    // for the whole set.
    private static void Generate(SourceProductionContext output, ImmutableArray<ProtoFile> files)
    {
        var resolver = new TypeResolver(files);
        foreach (var file in files)
        {
            foreach (var error in file.Errors.Items)
            {
                output.ReportDiagnostic(Diagnostic.Create(Diagnostics.UnreadableProto, Diagnostics.At(file.Path, error.Line),
                    file.Path, error.Message));
            }

            foreach (var service in file.Services.Items)
            {
                if (Resolve(output, resolver, file, service) is { } methods)
                {
                    output.AddSource(ServiceEmitter.HintName(file, service), ServiceEmitter.Emit(file, service, methods));
                }
            }
        }
    }

    private static List<ResolvedMethod>? Resolve(SourceProductionContext output, TypeResolver resolver, ProtoFile file,
        ProtoService service)
    {
        var methods = new List<ResolvedMethod>();
        var complete = true;
        foreach (var method in service.Methods.Items)
        {
            var request = ResolveOne(method.RequestType);
            var response = ResolveOne(method.ResponseType);
            if (request is not null && response is not null)
            {
                methods.Add(new ResolvedMethod(method, request, response));
            }
            else
            {
                complete = false;
            }

            string? ResolveOne(string reference)
            {
                var type = resolver.Resolve(reference, file.Package);
                if (type is null)
                {
                    output.ReportDiagnostic(Diagnostic.Create(Diagnostics.UnknownType, Diagnostics.At(file.Path, method.Line),
                        service.Name, method.Name, reference, file.Package));
                }

                return type;
            }
        }

        // Half a service would compile into a binding that silently answers NotFound for the rest: emit none instead.
        return complete ? methods : null;
    }
}
