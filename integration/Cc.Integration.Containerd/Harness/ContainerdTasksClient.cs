using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Cc.Containerd.Protocol;
using Google.Protobuf;
using UpdateTaskRequest = Cc.Containerd.Protocol.Tasks.UpdateTaskRequest;

namespace Cc.Integration.Containerd.Harness;

/// <summary>
/// The containerd client calls ctr does not offer: Tasks.Update (`ctr task update` does not exist in containerd 1.6
/// or 1.7; CRI's UpdateContainerResources and nerdctl/docker update use this call). A bare gRPC unary call over the
/// containerd socket: HTTP/2 without TLS, a 5-byte length prefix, the status in the trailers.
/// containerd.services.tasks.v1.UpdateTaskRequest{1 container_id, 2 resources Any, 3 annotations} has the same wire
/// layout as the shim API's UpdateTaskRequest{1 id, 2 resources, 3 annotations}, so that message is reused. The same
/// holds for Tasks.Wait (`ctr task wait` does not exist either): WaitRequest{1 container_id, 2 exec_id} and
/// WaitResponse{1 exit_status, 2 exited_at} are laid out as the shim API's.
/// </summary>
internal static class ContainerdTasksClient
{
    /// <summary>Sends LinuxResources JSON to containerd for task <paramref name="id"/>; returns the gRPC status and message.</summary>
    public static async Task<(int Status, string Message)> UpdateAsync(string socket, string ns, string id, string resourcesJson,
        CancellationToken cancellationToken)
    {
        var request = new UpdateTaskRequest
        {
            Id = id,
            Resources = TypeUrls.PackRaw(TypeUrls.OciLinuxResources, ByteString.CopyFromUtf8(resourcesJson)),
        };
        var (status, message, _) = await UnaryAsync(socket, ns, "Update", request, cancellationToken);
        return (status, message);
    }

    /// <summary>Tasks.Wait for task <paramref name="id"/>'s init; returns the gRPC status and, on success, the exit status.</summary>
    public static async Task<(int Status, string Message, uint ExitStatus)> WaitAsync(string socket, string ns, string id,
        CancellationToken cancellationToken)
    {
        var (status, message, body) = await UnaryAsync(socket, ns, "Wait", new Cc.Containerd.Protocol.Tasks.WaitRequest { Id = id },
            cancellationToken);
        var exit = status == 0 && body.Length >= 5 ? Cc.Containerd.Protocol.Tasks.WaitResponse.Parser.ParseFrom(body.AsSpan(5)).ExitStatus : 0;
        return (status, message, exit);
    }

    private static async Task<(int Status, string Message, byte[] Body)> UnaryAsync(string socket, string ns, string method,
        IMessage requestMessage, CancellationToken cancellationToken)
    {
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, token) =>
            {
                var connection = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await connection.ConnectAsync(new UnixDomainSocketEndPoint(socket), token);
                return new NetworkStream(connection, ownsSocket: true);
            },
        };
        using var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        var message = requestMessage.ToByteArray();
        var body = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(1), (uint)message.Length);
        message.CopyTo(body, 5);

        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://containerd/containerd.services.tasks.v1.Tasks/{method}")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        request.Headers.TryAddWithoutValidation("containerd-namespace", ns);
        using var response = await http.SendAsync(request, cancellationToken);
        var answer = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        var status = Header(response, "grpc-status") is { } text && int.TryParse(text, out var code) ? code : -1;
        return (status, Uri.UnescapeDataString(Header(response, "grpc-message") ?? ""), answer);
    }

    // gRPC puts the status in the trailers, or in the headers of a trailers-only response.
    private static string? Header(HttpResponseMessage response, string name) =>
        response.TrailingHeaders.TryGetValues(name, out var values) || response.Headers.TryGetValues(name, out values)
            ? values.FirstOrDefault()
            : null;
}
