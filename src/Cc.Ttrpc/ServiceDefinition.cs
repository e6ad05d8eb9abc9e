using Google.Protobuf;

namespace Cc.Ttrpc;

/// <summary>
/// One service's static dispatch table: method name to a typed handler, built once by the bindings,
/// no reflection.
/// </summary>
public sealed class ServiceDefinition
{
    private readonly Dictionary<string, Server.ServerMethod> _methods;
    private readonly Dictionary<string, Server.ServerMethod>.AlternateLookup<ReadOnlySpan<char>> _methodsBySpan;

    private ServiceDefinition(string name, Dictionary<string, Server.ServerMethod> methods)
    {
        Name = name;
        _methods = methods;
        _methodsBySpan = methods.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public string Name { get; }

    /// <summary>Finds a method by its UTF-8 name without allocating; <paramref name="name"/> is the registered string.</summary>
    internal bool TryGetMethod(ReadOnlySpan<byte> utf8, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? name,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Server.ServerMethod? method) =>
        Server.NameLookup.TryFind(_methods, _methodsBySpan, utf8, out name, out method);

    public static Builder CreateBuilder(string serviceName)
    {
        ArgumentException.ThrowIfNullOrEmpty(serviceName);
        return new Builder(serviceName);
    }

    public sealed class Builder
    {
        private readonly string _name;
        private readonly Dictionary<string, Server.ServerMethod> _methods = new(StringComparer.Ordinal);

        internal Builder(string name) => _name = name;

        public Builder AddUnary<TRequest, TResponse>(string method, MessageParser<TRequest> parser,
            Func<TRequest, ServerCallContext, ValueTask<TResponse>> handler)
            where TRequest : IMessage<TRequest>
            where TResponse : IMessage<TResponse>
            => Add(method, new Server.UnaryMethod<TRequest, TResponse>(parser, handler));

        public Builder AddServerStreaming<TRequest, TResponse>(string method, MessageParser<TRequest> parser,
            Func<TRequest, IServerStreamWriter<TResponse>, ServerCallContext, Task> handler)
            where TRequest : IMessage<TRequest>
            where TResponse : IMessage<TResponse>
            => Add(method, new Server.ServerStreamingMethod<TRequest, TResponse>(parser, handler));

        public Builder AddClientStreaming<TRequest, TResponse>(string method, MessageParser<TRequest> parser,
            Func<IAsyncStreamReader<TRequest>, ServerCallContext, ValueTask<TResponse>> handler)
            where TRequest : IMessage<TRequest>
            where TResponse : IMessage<TResponse>
            => Add(method, new Server.ClientStreamingMethod<TRequest, TResponse>(parser, handler));

        public Builder AddDuplexStreaming<TRequest, TResponse>(string method, MessageParser<TRequest> parser,
            Func<IAsyncStreamReader<TRequest>, IServerStreamWriter<TResponse>, ServerCallContext, Task> handler)
            where TRequest : IMessage<TRequest>
            where TResponse : IMessage<TResponse>
            => Add(method, new Server.DuplexStreamingMethod<TRequest, TResponse>(parser, handler));

        public ServiceDefinition Build() => new(_name, new Dictionary<string, Server.ServerMethod>(_methods, StringComparer.Ordinal));

        private Builder Add(string method, Server.ServerMethod handler)
        {
            ArgumentException.ThrowIfNullOrEmpty(method);
            if (!_methods.TryAdd(method, handler))
            {
                throw new ArgumentException($"ttrpc: method {method} is already registered on {_name}", nameof(method));
            }

            return this;
        }
    }
}
