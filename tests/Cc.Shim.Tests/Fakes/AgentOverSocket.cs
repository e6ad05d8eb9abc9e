using Cc.Agent.Protocol;
using Cc.Shim.Sandbox;
using Cc.TestKit;
using Cc.Ttrpc;

namespace Cc.Shim.Tests.Fakes;

/// <summary>
/// A fake agent served over a real ttrpc connection on a unix socket in a temporary directory, and the
/// <see cref="AgentGuest"/> that talks to it: the agent-client seam with the wire in between. Disposing ends the client,
/// the server and its serve loop, and removes the directory.
/// </summary>
internal sealed class AgentOverSocket : IAsyncDisposable
{
    private readonly string _root;
    private readonly TtrpcServer _server = new();
    private readonly Task _serving;
    private TtrpcClient? _client;

    private AgentOverSocket(string root, AgentServiceBase agent)
    {
        _root = root;
        _server.Register(AgentServiceBinding.Bind(agent));
        _serving = _server.ServeAsync("unix://" + Socket);
    }

    private string Socket => Path.Combine(_root, "agent.sock");

    /// <summary>Serves <paramref name="agent"/>, connects, and returns the guest client with <paramref name="deadlines"/>.</summary>
    public static async Task<(AgentOverSocket Served, AgentGuest Guest)> StartAsync(AgentServiceBase agent,
        AgentDeadlines? deadlines = null)
    {
        var served = new AgentOverSocket(Directory.CreateTempSubdirectory("cc-agent-").FullName, agent);
        await Bounded.UntilAsync(() => File.Exists(served.Socket), "the agent listens");
        served._client = await TtrpcClient.ConnectAsync("unix://" + served.Socket).WithTimeout();
        return (served, new AgentGuest(new AgentClient(served._client), deadlines));
    }

    /// <summary>Closes the connection: every call still waiting on it ends now.</summary>
    public async Task DisconnectAsync()
    {
        if (Interlocked.Exchange(ref _client, null) is { } client)
        {
            await client.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await DisconnectAsync();
        await _server.DisposeAsync();
        try
        {
            await _serving.WithTimeout();
        }
        catch (Exception)
        {
            // The serve loop ends with the server's disposal; how is not what the tests using this are about.
        }
        Directory.Delete(_root, recursive: true);
    }
}
