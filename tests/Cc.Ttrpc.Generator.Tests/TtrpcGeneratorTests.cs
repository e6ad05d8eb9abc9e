namespace Cc.Ttrpc.Generator.Tests;

public sealed class TtrpcGeneratorTests
{
    private const string Greeter = """
        // A comment with rpc Ghost(Nothing) returns (Nothing); in it must not become an rpc.
        syntax = "proto3";
        package demo.v1;
        import "google/protobuf/empty.proto";
        import "google/protobuf/wrappers.proto";
        option csharp_namespace = "Demo.Greeting";

        service Greeter {
          option deprecated = false;
          rpc Hello(google.protobuf.StringValue) returns (google.protobuf.StringValue);
          rpc Forget(google.protobuf.StringValue) returns (google.protobuf.Empty) {}
          /* the streaming shapes */
          rpc Count(google.protobuf.Int32Value) returns (stream google.protobuf.Int32Value);
          rpc Sum(stream google.protobuf.Int32Value) returns (google.protobuf.Int32Value);
          rpc Shout(stream google.protobuf.StringValue) returns (stream google.protobuf.StringValue);
        }
        """;

    [Fact]
    public void A_service_yields_its_handler_interface_binding_and_client_under_the_wire_names_of_the_proto()
    {
        var run = GeneratorRun.Of(("/api/demo/v1/greeter.proto", Greeter, null));

        run.GeneratorDiagnostics.ShouldBeEmpty();
        var source = run.Source("demo.v1.Greeter.ttrpc.g.cs");
        source.ShouldContain("namespace Demo.Greeting");
        source.ShouldContain("public partial interface IGreeterService");
        source.ShouldContain("public static partial class GreeterServiceBinding");
        source.ShouldContain("public sealed partial class GreeterClient");
        source.ShouldContain("public abstract partial class GreeterServiceBase : IGreeterService");
        source.ShouldContain("public const string ServiceName = \"demo.v1.Greeter\";");
        source.ShouldContain(
            "ValueTask<global::Google.Protobuf.WellKnownTypes.StringValue> HelloAsync(global::Google.Protobuf.WellKnownTypes.StringValue request, global::Cc.Ttrpc.ServerCallContext context);");
        source.ShouldContain(".AddUnary<global::Google.Protobuf.WellKnownTypes.StringValue, global::Google.Protobuf.WellKnownTypes.Empty>(\"Forget\", global::Google.Protobuf.WellKnownTypes.StringValue.Parser, impl.ForgetAsync)");
        source.ShouldContain(".AddServerStreaming<");
        source.ShouldContain(".AddClientStreaming<");
        source.ShouldContain(".AddDuplexStreaming<");
        source.ShouldContain("Connection.UnaryAsync(ServiceName, \"Hello\", request, global::Google.Protobuf.WellKnownTypes.StringValue.Parser, options);");
        source.ShouldNotContain("Ghost");
    }

    [Fact]
    public void The_generated_code_of_all_four_call_shapes_compiles_against_Cc_Ttrpc()
    {
        var run = GeneratorRun.Of(("/api/demo/v1/greeter.proto", Greeter, null));

        run.CompileErrors().ShouldBeEmpty();
        var client = run.Output.GetTypeByMetadataName("Demo.Greeting.GreeterClient").ShouldNotBeNull();
        client.GetMembers().OfType<Microsoft.CodeAnalysis.IMethodSymbol>()
            .Where(m => m.MethodKind == Microsoft.CodeAnalysis.MethodKind.Ordinary).Select(m => m.Name)
            .ShouldBe(["HelloAsync", "ForgetAsync", "Count", "Sum", "Shout"]);
    }

    [Fact]
    public void Rpc_types_resolve_relative_qualified_absolute_and_nested_and_without_a_csharp_namespace()
    {
        const string messages = """
            syntax = "proto3";
            package shop_floor.v1;
            message Order {
              string message = 1;
              message Line { int32 count = 1; }
              enum State { OPEN = 0; }
              oneof what { string id = 2; }
            }
            """;
        const string service = """
            syntax = "proto3";
            package shop_floor.v2;
            import "shop_floor/v1/order.proto";
            option csharp_namespace = "Shop.V2";
            message Receipt {}
            service Till {
              rpc Ring(v1.Order.Line) returns (Receipt);
              rpc Void(.shop_floor.v1.Order) returns (shop_floor.v2.Receipt);
            }
            """;

        var run = GeneratorRun.Of(("/api/order.proto", messages, null), ("/api/till.proto", service, null));

        run.GeneratorDiagnostics.ShouldBeEmpty();
        var source = run.Source("shop_floor.v2.Till.ttrpc.g.cs");
        source.ShouldContain("RingAsync(global::ShopFloor.V1.Order.Types.Line request");
        source.ShouldContain("ValueTask<global::Shop.V2.Receipt> RingAsync");
        source.ShouldContain("VoidAsync(global::ShopFloor.V1.Order request");
        source.ShouldContain("public const string ServiceName = \"shop_floor.v2.Till\";");
    }

    [Fact]
    public void TtrpcNamespace_metadata_puts_the_service_types_beside_the_project_not_the_messages()
    {
        const string proto = """
            syntax = "proto3";
            package cc.agent.v1;
            option csharp_namespace = "Cc.Agent.Protocol.V1";
            message CheckRequest {}
            message CheckResponse { bool ready = 1; }
            service Agent { rpc Check(CheckRequest) returns (CheckResponse); }
            """;

        var run = GeneratorRun.Of(("/api/agent.proto", proto, "Cc.Agent.Protocol"));

        var source = run.Source("cc.agent.v1.Agent.ttrpc.g.cs");
        source.ShouldContain("namespace Cc.Agent.Protocol;\n");
        source.ShouldContain("public partial interface IAgentService");
        source.ShouldContain("global::Cc.Agent.Protocol.V1.CheckResponse> CheckAsync(global::Cc.Agent.Protocol.V1.CheckRequest request");
    }

    [Fact]
    public void An_rpc_type_no_file_declares_is_an_error_at_its_proto_line_and_the_service_is_not_generated()
    {
        const string proto = """
            syntax = "proto3";
            package demo.v1;
            message Known {}
            service Half {
              rpc Fine(Known) returns (Known);
              rpc Broken(Known) returns (Missing);
            }
            """;

        var run = GeneratorRun.Of(("/api/half.proto", proto, null));

        var error = run.GeneratorDiagnostics.ShouldHaveSingleItem();
        error.Id.ShouldBe("CCTTRPC002");
        error.GetMessage().ShouldContain("rpc Half.Broken: no message 'Missing' in package 'demo.v1'");
        error.Location.GetLineSpan().Path.ShouldBe("/api/half.proto");
        error.Location.GetLineSpan().StartLinePosition.Line.ShouldBe(5);
        run.Sources.ShouldBeEmpty();
    }

    [Fact]
    public void A_proto_the_reader_cannot_follow_is_an_error_not_silently_less_code()
    {
        const string proto = """
            syntax = "proto3";
            package demo.v1;
            message Known {}
            service Bad {
              rpc Fine(Known) returns Known;
            }
            """;

        var run = GeneratorRun.Of(("/api/bad.proto", proto, null));

        var error = run.GeneratorDiagnostics.ShouldHaveSingleItem();
        error.Id.ShouldBe("CCTTRPC001");
        error.GetMessage().ShouldContain("expected '(', found 'Known'");
        error.Location.GetLineSpan().StartLinePosition.Line.ShouldBe(4);
    }

    [Fact]
    public void A_service_named_with_a_Service_suffix_does_not_get_it_twice()
    {
        const string proto = """
            syntax = "proto3";
            import "google/protobuf/empty.proto";
            service EchoService { rpc Ping(google.protobuf.Empty) returns (google.protobuf.Empty); }
            """;

        var run = GeneratorRun.Of(("/api/echo.proto", proto, null));

        var source = run.Source("EchoService.ttrpc.g.cs");
        source.ShouldContain("interface IEchoService");
        source.ShouldContain("class EchoServiceBinding");
        source.ShouldContain("public const string ServiceName = \"EchoService\";");
        run.CompileErrors().ShouldBeEmpty();
    }
}
