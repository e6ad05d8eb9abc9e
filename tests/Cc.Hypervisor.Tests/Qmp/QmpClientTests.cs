using System.Text.Json;
using Cc.Hypervisor.Qmp;
using Cc.TestKit;

namespace Cc.Hypervisor.Tests.Qmp;

public sealed class QmpClientTests
{
    [Fact]
    public async Task Connect_reads_the_QEMU_version_from_the_greeting_and_negotiates_capabilities()
    {
        await using var server = new FakeQmpServer();
        var (client, peer) = await server.ConnectClientAsync();
        await using (client)
        using (peer)
        {
            client.Version.ShouldBe(new QmpVersion(7, 2, 22, "Debian 1:7.2+dfsg-7"));
        }
    }

    [Fact]
    public async Task An_event_right_behind_the_capabilities_reply_reaches_a_subscription_made_at_connect()
    {
        await using var server = new FakeQmpServer();
        var connect = QmpClient.ConnectAndSubscribeAsync(server.SocketPath, null, CancellationToken.None);
        using FakeQmpPeer peer = await server.AcceptAsync();
        await peer.SendAsync(FakeQmpServer.Greeting);
        JsonElement capabilities = await peer.ReceiveAsync();
        // Reply and event in one write: the event is dispatched before ConnectAndSubscribeAsync returns.
        await peer.SendRawAsync(
            $$"""{"return": {}, "id": {{capabilities.GetProperty("id").GetRawText()}}}""" + "\r\n" +
            """{"timestamp": {"seconds": 1, "microseconds": 0}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-panic"}}""" + "\r\n");

        var (client, events) = await connect.WithTimeout();
        await using (client)
        using (events)
        {
            (await events.WaitForAsync(QmpEvent.Shutdown, CancellationToken.None).WithTimeout())
                .Data.GetProperty("reason").GetString().ShouldBe("guest-panic");
        }
    }

    [Fact]
    public async Task A_peer_that_does_not_greet_with_QMP_fails_connect_with_a_protocol_error()
    {
        await using var server = new FakeQmpServer();
        Task<QmpClient> connect = QmpClient.ConnectAsync(server.SocketPath, null, CancellationToken.None);
        using FakeQmpPeer peer = await server.AcceptAsync();
        await peer.SendAsync("""{"hello": "world"}""");

        var error = await Should.ThrowAsync<QmpProtocolException>(() => connect.WithTimeout());
        error.Message.ShouldContain("greeting");
    }

    [Fact]
    public async Task Commands_carry_increasing_ids_and_their_arguments_and_return_the_reply()
    {
        await using var server = new FakeQmpServer();
        var (client, peer) = await server.ConnectClientAsync();
        await using (client)
        using (peer)
        {
            Task<QmpStatus> status = client.QueryStatusAsync(CancellationToken.None);
            JsonElement first = await peer.ReceiveAsync();
            first.GetProperty("execute").GetString().ShouldBe("query-status");
            first.TryGetProperty("arguments", out _).ShouldBeFalse("a command without arguments sends none");
            await peer.ReplyAsync(first, """{"status": "running", "singlestep": false, "running": true}""");
            (await status.WithTimeout()).ShouldBe(new QmpStatus("running", true));

            Task del = client.DeviceDelAsync("net0", CancellationToken.None);
            JsonElement second = await peer.ReceiveAsync();
            second.GetProperty("id").GetInt64().ShouldBeGreaterThan(first.GetProperty("id").GetInt64());
            second.GetProperty("execute").GetString().ShouldBe("device_del");
            second.GetProperty("arguments").GetRawText().ShouldBe("""{"id":"net0"}""");
            await peer.ReplyAsync(second, "{}");
            await del.WithTimeout();
        }
    }

    [Fact]
    public async Task Device_add_sends_driver_id_and_typed_properties_as_one_flat_object()
    {
        await using var server = new FakeQmpServer();
        var (client, peer) = await server.ConnectClientAsync();
        await using (client)
        using (peer)
        {
            var properties = new Dictionary<string, JsonElement>
            {
                ["bus"] = JsonDocument.Parse("\"pcie.0\"").RootElement,
                ["addr"] = JsonDocument.Parse("5").RootElement,
            };
            Task add = client.DeviceAddAsync("virtio-blk-pci", "blk0", properties, CancellationToken.None);
            JsonElement request = await peer.ReceiveAsync();
            request.GetProperty("arguments").GetRawText().ShouldBe("""{"driver":"virtio-blk-pci","id":"blk0","bus":"pcie.0","addr":5}""");
            await peer.ReplyAsync(request, "{}");
            await add.WithTimeout();
        }
    }

    [Fact]
    public async Task Replies_that_arrive_out_of_order_reach_the_caller_whose_id_they_carry()
    {
        await using var server = new FakeQmpServer();
        var (client, peer) = await server.ConnectClientAsync();
        await using (client)
        using (peer)
        {
            Task<JsonElement> a = client.ExecuteAsync("query-a", null, CancellationToken.None);
            JsonElement requestA = await peer.ReceiveAsync();
            Task<JsonElement> b = client.ExecuteAsync("query-b", null, CancellationToken.None);
            JsonElement requestB = await peer.ReceiveAsync();

            await peer.ReplyAsync(requestB, "\"b\"");
            await peer.ReplyAsync(requestA, "\"a\"");

            (await b.WithTimeout()).GetString().ShouldBe("b");
            (await a.WithTimeout()).GetString().ShouldBe("a");
        }
    }

    [Fact]
    public async Task An_error_reply_throws_a_typed_error_with_class_and_description_and_the_connection_stays_usable()
    {
        await using var server = new FakeQmpServer();
        var (client, peer) = await server.ConnectClientAsync();
        await using (client)
        using (peer)
        {
            Task del = client.DeviceDelAsync("nope", CancellationToken.None);
            await peer.ReplyErrorAsync(await peer.ReceiveAsync(), "DeviceNotFound", "Device 'nope' not found");

            var error = await Should.ThrowAsync<QmpErrorException>(() => del.WithTimeout());
            error.Command.ShouldBe("device_del");
            error.ErrorClass.ShouldBe("DeviceNotFound");
            error.Description.ShouldBe("Device 'nope' not found");

            Task resume = client.ResumeAsync(CancellationToken.None);
            JsonElement cont = await peer.ReceiveAsync();
            cont.GetProperty("execute").GetString().ShouldBe("cont");
            await peer.ReplyAsync(cont, "{}");
            await resume.WithTimeout();
        }
    }

    [Fact]
    public async Task Events_between_replies_reach_subscribers_in_order_and_leave_the_replies_intact()
    {
        await using var server = new FakeQmpServer();
        var (client, peer) = await server.ConnectClientAsync();
        await using (client)
        using (peer)
        {
            using QmpEventSubscription events = client.SubscribeEvents();
            Task pause = client.PauseAsync(CancellationToken.None);
            JsonElement stop = await peer.ReceiveAsync();
            stop.GetProperty("execute").GetString().ShouldBe("stop");

            await peer.SendEventAsync("STOP", "{}");
            await peer.ReplyAsync(stop, "{}");
            await peer.SendEventAsync("DEVICE_DELETED", """{"device": "net0", "path": "/machine/peripheral/net0"}""");
            await pause.WithTimeout();

            await using var reader = events.ReadAllAsync(CancellationToken.None).GetAsyncEnumerator();
            (await reader.MoveNextAsync().AsTask().WithTimeout()).ShouldBeTrue();
            reader.Current.Name.ShouldBe(QmpEvent.Stop);
            reader.Current.Timestamp.ShouldBe(DateTimeOffset.FromUnixTimeSeconds(1700000000).AddMilliseconds(250));
            (await reader.MoveNextAsync().AsTask().WithTimeout()).ShouldBeTrue();
            reader.Current.Name.ShouldBe(QmpEvent.DeviceDeleted);
            reader.Current.Data.GetProperty("device").GetString().ShouldBe("net0");
        }
    }

    [Fact]
    public async Task A_subscriber_waiting_for_one_event_skips_the_others()
    {
        await using var server = new FakeQmpServer();
        var (client, peer) = await server.ConnectClientAsync();
        await using (client)
        using (peer)
        {
            using QmpEventSubscription events = client.SubscribeEvents();
            Task<QmpEvent> shutdown = events.WaitForAsync(QmpEvent.Shutdown, CancellationToken.None);
            await peer.SendEventAsync("RESUME", "{}");
            await peer.SendEventAsync("SHUTDOWN", """{"guest": true, "reason": "guest-shutdown"}""");

            (await shutdown.WithTimeout()).Data.GetProperty("reason").GetString().ShouldBe("guest-shutdown");
        }
    }

    [Fact]
    public async Task A_server_disconnect_fails_every_pending_command_with_one_clear_error_and_ends_subscriptions()
    {
        await using var server = new FakeQmpServer();
        var (client, peer) = await server.ConnectClientAsync();
        await using (client)
        using (peer)
        {
            using QmpEventSubscription events = client.SubscribeEvents();
            Task<JsonElement> a = client.ExecuteAsync("query-a", null, CancellationToken.None);
            Task<JsonElement> b = client.ExecuteAsync("query-b", null, CancellationToken.None);
            await peer.ReceiveAsync();
            await peer.ReceiveAsync();

            peer.Close();

            var errorA = await Should.ThrowAsync<QmpDisconnectedException>(() => a.WithTimeout());
            var errorB = await Should.ThrowAsync<QmpDisconnectedException>(() => b.WithTimeout());
            errorA.Reason.ShouldBe("QEMU closed the QMP socket");
            errorB.Reason.ShouldBe(errorA.Reason);
            (await client.Completion.WithTimeout()).ShouldBe(errorA.Reason);

            var later = await Should.ThrowAsync<QmpDisconnectedException>(() => client.QueryStatusAsync(CancellationToken.None).WithTimeout());
            later.Reason.ShouldBe(errorA.Reason);

            await using var reader = events.ReadAllAsync(CancellationToken.None).GetAsyncEnumerator();
            (await reader.MoveNextAsync().AsTask().WithTimeout()).ShouldBeFalse("the event stream ends with the connection");
        }
    }

    [Fact]
    public async Task Quit_succeeds_when_QEMU_closes_the_socket_instead_of_replying()
    {
        await using var server = new FakeQmpServer();
        var (client, peer) = await server.ConnectClientAsync();
        await using (client)
        using (peer)
        {
            Task quit = client.QuitAsync(CancellationToken.None);
            (await peer.ReceiveAsync()).GetProperty("execute").GetString().ShouldBe("quit");
            peer.Close();

            await quit.WithTimeout();
        }
    }

    [Fact]
    public async Task A_cancelled_command_gives_up_and_its_late_reply_does_not_reach_the_next_command()
    {
        await using var server = new FakeQmpServer();
        var (client, peer) = await server.ConnectClientAsync();
        await using (client)
        using (peer)
        {
            using var cts = new CancellationTokenSource();
            Task<JsonElement> slow = client.ExecuteAsync("query-slow", null, cts.Token);
            JsonElement slowRequest = await peer.ReceiveAsync();
            await cts.CancelAsync();
            await Should.ThrowAsync<OperationCanceledException>(() => slow.WithTimeout());

            Task<JsonElement> next = client.ExecuteAsync("query-next", null, CancellationToken.None);
            JsonElement nextRequest = await peer.ReceiveAsync();
            await peer.ReplyAsync(slowRequest, "\"late\"");
            await peer.ReplyAsync(nextRequest, "\"next\"");

            (await next.WithTimeout()).GetString().ShouldBe("next");
        }
    }

    [Fact]
    public async Task Invalid_JSON_from_the_peer_closes_the_connection_with_a_protocol_reason()
    {
        await using var server = new FakeQmpServer();
        var (client, peer) = await server.ConnectClientAsync();
        await using (client)
        using (peer)
        {
            Task<JsonElement> pending = client.ExecuteAsync("query-x", null, CancellationToken.None);
            await peer.ReceiveAsync();
            await peer.SendRawAsync("{not json\r\n");

            var error = await Should.ThrowAsync<QmpDisconnectedException>(() => pending.WithTimeout());
            error.Reason.ShouldStartWith("QMP message is not valid JSON");
        }
    }
}
