using System.Net.Sockets;
using Cc.Agent.Protocol.V1;
using Cc.Ttrpc;

namespace Cc.Agent.Protocol;

// The host side of the agent channel: connects to the unix socket of QEMU's virtio-serial chardev
// (or a vsock address) and returns a client once the agent has answered Check with ready = true.
//
// Over virtio-serial the host's connect succeeds as soon as QEMU listens, long before the guest
// opens its port; QEMU then holds our bytes until it does. So readiness is not the connect but the
// first answered Check: we probe with short per-call timeouts on one connection, and the answers
// to probes that timed out arrive later and are dropped by the client (their stream ids are gone).
// A connection that ends (QEMU not up yet, agent restarted) is replaced, until the deadline.
//
// A probe waiting while the guest opens its port may wait out the rest of its timeout for nothing: QEMU can hold the
// request it already read off the socket, or the socket itself, until something else happens (docs/performance.md,
// "Where a cold start goes"). When the transport tells us the guest opened its port (guestPortOpened: QEMU's
// VSERPORT_CHANGE over virtio-serial), the waiting probe is dropped and the next one sent at once; without such a
// signal (vsock) only the periodic probe runs, and it stays the fallback when the signal is late or lost.
public static class AgentConnector
{
    public static readonly TimeSpan DefaultProbeTimeout = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The first probe's timeout for a guest restored from a template: its agent is already up, waiting for a host in its
    /// port's reopen loop, but QEMU may hold the host's first request back until the host writes again (docs/templates.md,
    /// "The first answer"), so a short first probe, doubling to <see cref="DefaultProbeTimeout"/>, bounds that wait. It is
    /// safe only because the template was saved after its agent let go of the factory's connection (VmTemplateFactory):
    /// a probe answered on that stale connection would be followed by the agent closing it, discarding the next call.
    /// </summary>
    public static readonly TimeSpan RestoredGuestFirstProbe = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan s_retryDelay = TimeSpan.FromMilliseconds(50);

    /// <param name="guestPortOpened">Returns a task that completes the next time the guest opens its agent port after the
    /// call (<c>IGuestPortSignal.NextOpenAsync</c> of Cc.Hypervisor); null when the transport cannot tell.</param>
    public static async Task<AgentClient> ConnectAsync(string address, TimeSpan deadline,
        TtrpcClientOptions? options = null, TimeSpan? probeTimeout = null,
        Func<CancellationToken, Task>? guestPortOpened = null, CancellationToken cancellationToken = default)
    {
        var probe = probeTimeout ?? DefaultProbeTimeout;
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(deadline);
        Exception? last = null;
        try
        {
            while (true)
            {
                TtrpcClient client;
                try
                {
                    client = await TtrpcClient.ConnectAsync(address, options, bounded.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SocketException or IOException)
                {
                    // QEMU has not created (or no longer listens on) the socket.
                    last = e;
                    await Task.Delay(s_retryDelay, bounded.Token).ConfigureAwait(false);
                    continue;
                }

                var agent = new AgentClient(client);
                var answered = false;
                try
                {
                    answered = await ProbeAsync(agent, probe, guestPortOpened, bounded.Token).ConfigureAwait(false);
                }
                catch (TtrpcException e) when (!bounded.IsCancellationRequested)
                {
                    last = e;
                }
                finally
                {
                    if (!answered)
                    {
                        await client.DisposeAsync().ConfigureAwait(false);
                    }
                }

                if (answered)
                {
                    return agent;
                }

                await Task.Delay(s_retryDelay, bounded.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or TtrpcException && bounded.IsCancellationRequested &&
                                  !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException(
                $"agent at {address} did not answer Check within {deadline.TotalSeconds:0.#} s" +
                (last is null ? "" : $" (last: {last.Message})"), last);
        }
    }

    // True once Check answers ready; false when the connection ends first. A probe that times out is followed by one
    // with twice its timeout, up to DefaultProbeTimeout (RestoredGuestFirstProbe). The agent takes a probe's id that does
    // not increase as a new session (docs/agent-api.md, Check), so probes that meet an old session are answered too.
    // A guest opening its port (guestPortOpened) ends the waiting probe early: the next is sent at once, with the same
    // timeout the dropped one had.
    private static async Task<bool> ProbeAsync(AgentClient agent, TimeSpan probe, Func<CancellationToken, Task>? guestPortOpened,
        CancellationToken cancellationToken)
    {
        while (!agent.Connection.Completion.IsCompleted)
        {
            var timeout = probe;
            probe = TimeSpan.FromTicks(Math.Min(probe.Ticks * 2, Math.Max(timeout.Ticks, DefaultProbeTimeout.Ticks)));
            using var thisProbe = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            try
            {
                // Taken before the Check is written, so an open that happens while it is on its way counts.
                var opened = guestPortOpened?.Invoke(thisProbe.Token);
                var check = agent.CheckAsync(new CheckRequest(), new CallOptions(Timeout: timeout, CancellationToken: thisProbe.Token));
                if (opened is not null && await Task.WhenAny(check, opened).ConfigureAwait(false) == opened && !check.IsCompleted)
                {
                    await thisProbe.CancelAsync().ConfigureAwait(false);
                    await DropAsync(check).ConfigureAwait(false);
                    probe = timeout;
                    continue;
                }
                var response = await check.ConfigureAwait(false);
                if (response.Ready)
                {
                    return true;
                }
            }
            catch (TtrpcException e) when (e.Code == StatusCode.DeadlineExceeded && !cancellationToken.IsCancellationRequested)
            {
                // the guest has not opened its port yet: ask again on the same connection
                continue;
            }
            catch (TtrpcException e) when (e.Code == StatusCode.Unavailable)
            {
                return false;
            }
            finally
            {
                // Releases this probe's wait for an open (and its Check, if still pending).
                await thisProbe.CancelAsync().ConfigureAwait(false);
            }

            await Task.Delay(s_retryDelay, cancellationToken).ConfigureAwait(false);
        }

        return false;
    }

    // A probe dropped for a fresher one: it ends cancelled (its late answer is discarded by the client); only the
    // connection's end matters, and the next probe sees that.
    private static async Task DropAsync(Task<CheckResponse> check)
    {
        try
        {
            await check.ConfigureAwait(false);
        }
        catch (TtrpcException)
        {
        }
    }
}
