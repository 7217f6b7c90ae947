using System.Buffers;
using System.Net.WebSockets;
using System.Threading.Channels;
using ChatGateway.Protocol;

namespace ChatGateway.Client;

// Connection lifecycle: open (token, upgrade, Hello), the receive loop, reconnect with backoff, and catch-up.
public sealed partial class ChatClient
{
    private async Task<ClientWebSocket> OpenAsync(bool reconnected, CancellationToken cancellationToken)
    {
        string token = await _tokenProvider(cancellationToken).ConfigureAwait(false);
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        socket.Options.KeepAliveInterval = TimeSpan.Zero; // the server pings; heartbeats carry presence
        try
        {
            await socket.ConnectAsync(_server, cancellationToken).ConfigureAwait(false);
            // The first frame of every session is Hello.
            (ServerMessage? first, _) = await ReceiveOneAsync(socket, new byte[4096], cancellationToken).ConfigureAwait(false);
            if (first is not HelloMessage hello)
            {
                throw new WebSocketException("the server did not start with Hello");
            }
            Hello = hello.Fields;
            _socket = socket;
            _backoff.Reset();
            StartTimers(hello.Fields);
            _online.TrySetResult();
            await EmitAsync(new ConnectedEvent(hello.Fields, reconnected)).ConfigureAwait(false);
            _ = Task.Run(CatchUpAsync);
            _ = Task.Run(ResubscribePresenceAsync);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async Task RunAsync(ClientWebSocket socket)
    {
        while (true)
        {
            (int? code, string? reason) = await ReceiveLoopAsync(socket).ConfigureAwait(false);
            _online = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _heartbeat?.Dispose();
            _refresh?.Dispose();
            foreach ((uint _, TaskCompletionSource<ServerMessage> pending) in _requests)
            {
                pending.TrySetException(new ConnectionLostException($"connection closed ({code?.ToString() ?? "no close frame"})"));
            }
            socket.Dispose();
            bool final = _disposed.IsCancellationRequested || !_options.AutoReconnect
                         || code is CloseCode.SessionLimit or CloseCode.PolicyViolation or CloseCode.UnsupportedData;
            await EmitAsync(new DisconnectedEvent(code, reason, !final)).ConfigureAwait(false);
            if (final)
            {
                _online.TrySetException(new ConnectionLostException($"stopped after close {code}: {reason}"));
                return;
            }
            while (true)
            {
                try
                {
                    await Task.Delay(_backoff.Next(), _disposed.Token).ConfigureAwait(false);
                    socket = await OpenAsync(reconnected: true, _disposed.Token).ConfigureAwait(false);
                    break;
                }
                catch (OperationCanceledException) when (_disposed.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex) when (ex is WebSocketException or IOException or HttpRequestException or ProtocolException)
                {
                    // the node is down, restarting, or refused the token: try again later
                }
            }
        }
    }

    /// <summary>Reads messages until the connection ends; returns the close code and reason, if any came.</summary>
    private async Task<(int? Code, string? Reason)> ReceiveLoopAsync(ClientWebSocket socket)
    {
        byte[] buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                (ServerMessage? message, buffer) = await ReceiveOneAsync(socket, buffer, _disposed.Token).ConfigureAwait(false);
                if (message is null)
                {
                    continue; // a type this client does not know
                }
                await HandleAsync(message).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException or ProtocolException
                                       or ClosedException or ChannelClosedException)
        {
            return ((int?)socket.CloseStatus, socket.CloseStatusDescription);
        }
    }

    private sealed class ClosedException : Exception;

    private async Task<(ServerMessage? Message, byte[] Buffer)> ReceiveOneAsync(ClientWebSocket socket, byte[] buffer, CancellationToken cancellationToken)
    {
        int length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                if (buffer.Length >= _options.MaxReceiveBytes)
                {
                    throw new ProtocolException(ErrorCode.TooLarge, "server message over MaxReceiveBytes");
                }
                Array.Resize(ref buffer, Math.Min(buffer.Length * 2, _options.MaxReceiveBytes));
            }
            ValueWebSocketReceiveResult result = await socket.ReceiveAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new ClosedException();
            }
            length += result.Count;
            if (result.EndOfMessage)
            {
                return (ServerMessageReader.Read(new ReadOnlySequence<byte>(buffer, 0, length)), buffer);
            }
        }
    }

    private async Task HandleAsync(ServerMessage message)
    {
        switch (message)
        {
            case IReply reply:
                if (_requests.TryGetValue(reply.RequestId, out TaskCompletionSource<ServerMessage>? waiting))
                {
                    waiting.TrySetResult(message);
                }
                break;
            case DeliverMessage deliver:
                await OnDeliverAsync(deliver.Message).ConfigureAwait(false);
                break;
            case PendingMessage pending:
                _ = Task.Run(() => OnPendingAsync(pending));
                break;
            case ReceiptMessage receipt:
                await EmitAsync(new ReceiptEvent(receipt.Conversation, receipt.User, receipt.Seq)).ConfigureAwait(false);
                break;
            case TypingMessage typing:
                await EmitAsync(new TypingEvent(typing.Conversation, typing.User)).ConfigureAwait(false);
                break;
            case PresenceEventMessage presence:
                await EmitAsync(new PresenceChangedEvent(presence.Changes)).ConfigureAwait(false);
                break;
            case MembershipMessage membership:
                await EmitAsync(new MembershipEvent(membership.Conversation, membership.Change, membership.Actor, membership.Users)).ConfigureAwait(false);
                break;
        }
    }

    private async Task OnDeliverAsync(ChatMessage message)
    {
        var emit = new List<ChatEvent>(1);
        bool gap;
        await _stateLock.WaitAsync().ConfigureAwait(false);
        try
        {
            gap = _tracker.OnDeliver(message, emit);
            await EmitAllAsync(emit).ConfigureAwait(false);
        }
        finally
        {
            _stateLock.Release();
        }
        if (gap)
        {
            _ = FillAsync(message.Conversation);
        }
    }

    private async Task OnOwnAckAsync(AckMessage ack)
    {
        var emit = new List<ChatEvent>();
        bool gap;
        await _stateLock.WaitAsync().ConfigureAwait(false);
        try
        {
            gap = _tracker.OnOwnAck(ack.Conversation, ack.Seq, emit);
            await EmitAllAsync(emit).ConfigureAwait(false);
        }
        finally
        {
            _stateLock.Release();
        }
        if (gap)
        {
            _ = FillAsync(ack.Conversation);
        }
    }

    /// <summary>
    /// Syncs a conversation from the last seq held until it is at the head with no gap open. One fill per
    /// conversation at a time: a call while one runs joins it (returns the running fill's task).
    /// </summary>
    private Task FillAsync(long conversation)
    {
        TaskCompletionSource done;
        lock (_fills)
        {
            if (_fills.TryGetValue(conversation, out Task? running))
            {
                return running;
            }
            done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _fills[conversation] = done.Task;
        }
        _ = RunFillAsync(conversation, done);
        return done.Task;
    }

    private async Task RunFillAsync(long conversation, TaskCompletionSource done)
    {
        bool again = false;
        try
        {
            await _stateLock.WaitAsync().ConfigureAwait(false);
            try
            {
                _tracker.StartFill(conversation);
            }
            finally
            {
                _stateLock.Release();
            }
            var emit = new List<ChatEvent>();
            bool more = true;
            while (more)
            {
                long after = await LastOfAsync(conversation).ConfigureAwait(false);
                SyncResultMessage page = await SyncAsync(conversation, after, _options.SyncPageSize).ConfigureAwait(false);
                await _stateLock.WaitAsync().ConfigureAwait(false);
                try
                {
                    more = _tracker.OnSyncPage(page, emit);
                    await EmitAllAsync(emit).ConfigureAwait(false);
                    emit.Clear();
                }
                finally
                {
                    _stateLock.Release();
                }
            }
        }
        catch (Exception ex) when (ex is ConnectionLostException or ChatException or TimeoutException or OperationCanceledException or ChannelClosedException)
        {
            // the catch-up after the reconnect fills it again
        }
        finally
        {
            await _stateLock.WaitAsync().ConfigureAwait(false);
            try
            {
                again = _tracker.EndFill(conversation) && IsConnected;
            }
            finally
            {
                _stateLock.Release();
            }
            lock (_fills)
            {
                _fills.Remove(conversation);
            }
            done.TrySetResult();
        }
        if (again)
        {
            _ = FillAsync(conversation); // a gap opened behind the pages this fill read
        }
    }

    private async Task<long> LastOfAsync(long conversation)
    {
        await _stateLock.WaitAsync().ConfigureAwait(false);
        try
        {
            return _tracker.LastOf(conversation);
        }
        finally
        {
            _stateLock.Release();
        }
    }

    /// <summary>
    /// After every (re)connect: list the user's conversations and fill each one whose head is past what this
    /// device holds (unknown ones from the start). This is what makes every device catch up on its own,
    /// including on conversations created while it was away.
    /// </summary>
    private async Task CatchUpAsync()
    {
        try
        {
            var behind = new List<(long Conversation, long Head)>();
            long cursor = 0;
            do
            {
                ConversationListMessage page = await ListConversationsAsync(0, cursor).ConfigureAwait(false);
                foreach (ConversationSummary summary in page.Conversations)
                {
                    if (summary.Head > await LastOfAsync(summary.Conversation).ConfigureAwait(false))
                    {
                        behind.Add((summary.Conversation, summary.Head));
                    }
                }
                cursor = page.NextCursor;
            }
            while (cursor != 0);
            foreach ((long conversation, long head) in behind)
            {
                // A fill already running (a pending entry, a gap) may have read its last page before this
                // listing: fill again until this device holds the head the listing saw.
                for (int attempt = 0; attempt < 3 && await LastOfAsync(conversation).ConfigureAwait(false) < head; attempt++)
                {
                    await FillAsync(conversation).ConfigureAwait(false);
                }
            }
            await EmitAsync(new CaughtUpEvent(behind.Count)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ConnectionLostException or ChatException or TimeoutException or OperationCanceledException or ChannelClosedException)
        {
            // the next connect catches up again
        }
    }

    /// <summary>Pending entries name conversations with news: fill them, then acknowledge so the server drops them.</summary>
    private async Task OnPendingAsync(PendingMessage pending)
    {
        try
        {
            foreach (PendingConversation item in pending.Conversations)
            {
                await FillAsync(item.Conversation).ConfigureAwait(false);
            }
            // A truncated queue lost entries: the catch-up's full listing covers what they named.
            await RequestAsync((o, rid) => ClientRequestWriter.AckPending(o, rid, pending.Cursor), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ConnectionLostException or ChatException or TimeoutException or OperationCanceledException or ChannelClosedException)
        {
        }
    }

    /// <summary>Subscriptions belong to a session: renew them on every (re)connect; the snapshot arrives as a change event.</summary>
    private async Task ResubscribePresenceAsync()
    {
        long[] users;
        lock (_presenceSubscriptions)
        {
            users = [.. _presenceSubscriptions];
        }
        if (users.Length == 0)
        {
            return;
        }
        try
        {
            PresenceResultMessage snapshot = (PresenceResultMessage)await RequestAsync(
                (o, rid) => ClientRequestWriter.PresenceSubscribe(o, rid, users), CancellationToken.None).ConfigureAwait(false);
            await EmitAsync(new PresenceChangedEvent(snapshot.Entries)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ConnectionLostException or ChatException or TimeoutException or OperationCanceledException or ChannelClosedException)
        {
        }
    }

    private void StartTimers(HelloFields hello)
    {
        _heartbeat?.Dispose();
        // 80% of the announced interval: a device that heartbeats never ages past the server's online window
        // (the same 30 s by default) between two heartbeats.
        TimeSpan interval = TimeSpan.FromMilliseconds(Math.Max(1000, hello.HeartbeatIntervalMs * 0.8));
        _heartbeat = TimeProvider.System.CreateTimer(_ => _ = HeartbeatAsync(), null, interval, interval);
        _refresh?.Dispose();
        TimeSpan untilExpiry = DateTimeOffset.FromUnixTimeMilliseconds(hello.TokenExpiresMs) - DateTimeOffset.FromUnixTimeMilliseconds(hello.ServerTimeMs);
        if (untilExpiry > TimeSpan.Zero)
        {
            // Refresh at 80% of the remaining lifetime: early enough to survive a slow token provider.
            _refresh = TimeProvider.System.CreateTimer(_ => _ = RefreshAsync(), null, untilExpiry * 0.8, Timeout.InfiniteTimeSpan);
        }
    }

    private async Task HeartbeatAsync()
    {
        try
        {
            await RequestAsync((o, rid) => ClientRequestWriter.Heartbeat(o, rid), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ConnectionLostException or ChatException or TimeoutException)
        {
        }
    }

    private async Task RefreshAsync()
    {
        try
        {
            string token = await _tokenProvider(_disposed.Token).ConfigureAwait(false);
            long expires = ((OkMessage)await RequestAsync((o, rid) => ClientRequestWriter.RefreshToken(o, rid, token), CancellationToken.None).ConfigureAwait(false)).Value;
            TimeSpan untilExpiry = DateTimeOffset.FromUnixTimeMilliseconds(expires) - DateTimeOffset.UtcNow;
            if (untilExpiry > TimeSpan.Zero)
            {
                _refresh?.Change(untilExpiry * 0.8, Timeout.InfiniteTimeSpan);
            }
        }
        catch (Exception ex) when (ex is ConnectionLostException or ChatException or TimeoutException or OperationCanceledException or ChannelClosedException)
        {
            // the server closes with 4001 when the token runs out; the reconnect asks the provider again
        }
    }

    private ValueTask EmitAsync(ChatEvent e) => _events.Writer.WriteAsync(e, _disposed.Token);

    private async ValueTask EmitAllAsync(List<ChatEvent> events)
    {
        foreach (ChatEvent e in events)
        {
            await _events.Writer.WriteAsync(e, _disposed.Token).ConfigureAwait(false);
        }
    }
}
