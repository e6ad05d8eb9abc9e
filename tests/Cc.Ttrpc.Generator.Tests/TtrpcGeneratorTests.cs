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
        source.ShouldContain("public partial interface IGreeterClient");
        source.ShouldContain("public sealed partial class GreeterClient : IGreeterClient");
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
    [Fact]
    public void The_client_interface_has_every_rpc_in_every_shape_and_the_client_implements_it()
    {
        var run = GeneratorRun.Of(("/api/demo/v1/greeter.proto", Greeter, null));

        run.CompileErrors().ShouldBeEmpty();
        var contract = run.Output.GetTypeByMetadataName("Demo.Greeting.IGreeterClient").ShouldNotBeNull();
        var client = run.Output.GetTypeByMetadataName("Demo.Greeting.GreeterClient").ShouldNotBeNull();
        contract.GetMembers().OfType<Microsoft.CodeAnalysis.IMethodSymbol>().Select(m => m.Name)
            .ShouldBe(["HelloAsync", "ForgetAsync", "Count", "Sum", "Shout"]);
        client.AllInterfaces.Select(i => i.ToDisplayString()).ShouldContain("Demo.Greeting.IGreeterClient");
        foreach (var member in contract.GetMembers())
        {
            client.FindImplementationForInterfaceMember(member).ShouldNotBeNull(member.Name);
        }
    }

    // The house issue 9 asks for: a consumer that calls the client through I{Name}Client and a fake that derives from
    // {Name}ServiceBase compile unchanged when the proto gains an rpc, and the new call is there for the consumer to make.
    // Before the generated interface, the same rpc took seven hand edits (proto, service interface, binding, client,
    // the shim's seam, its adapter, the fake); now it is the proto, the real server's handler and the call site.
    [Fact]
    public void A_new_rpc_is_one_proto_edit_for_a_consumer_of_the_client_interface_and_a_fake_of_the_service_base()
    {
        const string before = """
            syntax = "proto3";
            package demo.v1;
            import "google/protobuf/wrappers.proto";
            service Desk {
              rpc Hello(google.protobuf.StringValue) returns (google.protobuf.StringValue);
            }
            """;
        var after = before.Replace("returns (google.protobuf.StringValue);\n",
            "returns (google.protobuf.StringValue);\n  rpc Bye(google.protobuf.StringValue) returns (google.protobuf.StringValue);\n");
        const string consumer = """
            using System.Threading.Tasks;
            using Google.Protobuf.WellKnownTypes;
            namespace Demo.V1;
            public sealed class Front(IDeskClient desk)
            {
                public async Task<string> GreetAsync(string name) => (await desk.HelloAsync(new StringValue { Value = name })).Value;
            }
            public sealed class FakeDesk : DeskServiceBase
            {
                public override ValueTask<StringValue> HelloAsync(StringValue request, global::Cc.Ttrpc.ServerCallContext context) =>
                    ValueTask.FromResult(new StringValue { Value = "hello " + request.Value });
            }
            """;
        const string callSite = """
            namespace Demo.V1;
            public static class Leaving
            {
                public static System.Threading.Tasks.Task<Google.Protobuf.WellKnownTypes.StringValue> ByeAsync(IDeskClient desk) =>
                    desk.ByeAsync(new Google.Protobuf.WellKnownTypes.StringValue());
            }
            """;

        var first = GeneratorRun.Of(("/api/desk.proto", before, null));
        var second = GeneratorRun.Of(("/api/desk.proto", after, null));

        first.CompileErrors(consumer).ShouldBeEmpty();
        second.CompileErrors(consumer).ShouldBeEmpty("neither the consumer nor the fake needs an edit for the new rpc");
        second.CompileErrors(callSite).ShouldBeEmpty();
        first.CompileErrors(callSite).ShouldNotBeEmpty("the call exists only once the proto has the rpc");
        second.Source("demo.v1.Desk.ttrpc.g.cs").ShouldContain("(\"Bye\", global::Google.Protobuf.WellKnownTypes.StringValue.Parser, impl.ByeAsync)");
    }
}
