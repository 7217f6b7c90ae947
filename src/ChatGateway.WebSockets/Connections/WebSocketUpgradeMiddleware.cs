using System.Buffers;
using System.IO.Pipelines;
using ChatGateway.WebSockets.Handshake;
using ChatGateway.WebSockets.Timeouts;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace ChatGateway.WebSockets.Connections;

/// <summary>
/// Kestrel connection middleware, placed before the HTTP pipeline: it peeks at the request line of each
/// new connection; a request for the WebSocket path is answered here (handshake, then the WebSocket
/// read loop for the life of the connection), anything else is handed to <c>next</c> untouched, so
/// ordinary HTTP (health, metrics) shares the port.
/// <para>
/// Only the first request of a connection is looked at: a client that sends an upgrade after other
/// requests on a kept-alive connection gets the HTTP pipeline's answer. Browsers and WebSocket libraries
/// always open a fresh connection for a WebSocket.
/// </para>
/// </summary>
public sealed class WebSocketUpgradeMiddleware
{
    private readonly IWebSocketApplication _application;
    private readonly ConnectionSettings _settings; // also the sweeper and the logger, shared with every connection

    public WebSocketUpgradeMiddleware(IWebSocketApplication application, WebSocketServerOptions options, ConnectionSweeper sweeper, ILogger logger)
    {
        options.Validate();
        _application = application;
        _settings = new ConnectionSettings(options, sweeper, logger);
    }

    /// <summary>
    /// The connection's whole life is one async method, <see cref="WebSocketConnection.RunAsync"/>, whose task is the
    /// one Kestrel waits for: it runs <see cref="HandshakeAsync(ConnectionContext, ConnectionDelegate, WebSocketConnection)"/>
    /// first, then the read loop. A middleware method awaiting the read loop would keep its own state machine (144 B,
    /// dotnet-gcdump) alive beside the loop's for as long as the connection is open.
    /// </summary>
    public Task OnConnectionAsync(ConnectionContext context, ConnectionDelegate next) =>
        new WebSocketConnection(context, _settings).RunAsync(this, next);

    /// <summary>
    /// Reads the request head. True when <paramref name="connection"/> was upgraded (the 101 is sent and the session
    /// given to it); false when the connection was not for us (handed to <paramref name="next"/>, which has run to
    /// its end), when the upgrade was refused (the answer is sent), or when the client left or timed out.
    /// </summary>
    internal async Task<bool> HandshakeAsync(ConnectionContext context, ConnectionDelegate next, WebSocketConnection connection)
    {
        PipeReader input = context.Transport.Input;
        var deadline = new HandshakeDeadline(input, _settings.Time.GetTimestamp() + _settings.HandshakeTicks);
        int slot = _settings.Sweeper.Register(deadline);
        bool upgraded;
        try
        {
            (bool ours, upgraded) = await HandshakeAsync(context, input, deadline, connection).ConfigureAwait(false);
            if (!ours)
            {
                _settings.Sweeper.Unregister(slot);
                slot = -1;
                await next(context).ConfigureAwait(false);
                return false;
            }
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException)
        {
            return false; // the client left during the handshake
        }
        finally
        {
            if (slot >= 0)
            {
                _settings.Sweeper.Unregister(slot);
            }
        }
        return upgraded;
    }

    /// <summary>
    /// Returns (false, false) when the connection is not for us, (true, false) when the upgrade was refused
    /// or abandoned (an answer, if any, was written), and (true, true) when it was accepted.
    /// </summary>
    private async Task<(bool Ours, bool Upgraded)> HandshakeAsync(ConnectionContext context, PipeReader input, HandshakeDeadline deadline,
        WebSocketConnection connection)
    {
        WebSocketServerOptions options = _settings.Options;
        bool ours = false;
        while (true)
        {
            ReadResult result = await input.ReadAsync().ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (result.IsCanceled && deadline.Expired)
            {
                input.AdvanceTo(buffer.Start);
                _settings.Logger.LogDebug("Connection {ConnectionId}: handshake timed out", context.ConnectionId);
                if (ours)
                {
                    await RejectAsync(context, new HandshakeRejection(408, "Handshake timed out")).ConfigureAwait(false);
                }
                return (true, false);
            }

            if (!ours)
            {
                RequestLineMatch match = HandshakeParser.MatchRequestLine(buffer, options.Path, options.MaxRequestHeadSize);
                if (match == RequestLineMatch.OtherRequest)
                {
                    // Consumed and examined nothing: the HTTP parser starts from the first byte and does not
                    // wait for more data than it already has.
                    input.AdvanceTo(buffer.Start);
                    return (false, false);
                }
                ours = match == RequestLineMatch.WebSocketPath;
            }

            if (ours)
            {
                OperationStatus status = HandshakeParser.TryParse(buffer, options.MaxRequestHeadSize,
                    out WebSocketUpgradeRequest? request, out SequencePosition headEnd, out HandshakeRejection? rejection);
                if (status == OperationStatus.InvalidData)
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                    await RejectAsync(context, rejection!).ConfigureAwait(false);
                    return (true, false);
                }
                if (status == OperationStatus.Done)
                {
                    input.AdvanceTo(headEnd);
                    return (true, await UpgradeAsync(context, request!, connection).ConfigureAwait(false));
                }
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                return (true, false); // closed before a whole request line or head arrived
            }
        }
    }

    private async Task<bool> UpgradeAsync(ConnectionContext context, WebSocketUpgradeRequest request, WebSocketConnection connection)
    {
        request.Connection = context;
        HandshakeRejection? rejection = HandshakeValidator.Validate(request, _settings.Options, out string acceptKey);
        if (rejection is not null)
        {
            await RejectAsync(context, rejection).ConfigureAwait(false);
            return false;
        }

        WebSocketAcceptDecision decision = await _application.AcceptAsync(request, context.ConnectionClosed).ConfigureAwait(false);
        if (decision.Session is null)
        {
            await RejectAsync(context, decision.Rejection ?? new HandshakeRejection(403, "Forbidden")).ConfigureAwait(false);
            return false;
        }

        HandshakeResponse.WriteSwitchingProtocols(context.Transport.Output, acceptKey, request.Subprotocol);
        await context.Transport.Output.FlushAsync().ConfigureAwait(false);
        connection.Accept(decision.Session, request.Subprotocol);
        return true;
    }

    private async Task RejectAsync(ConnectionContext context, HandshakeRejection rejection)
    {
        _settings.Logger.LogDebug("Connection {ConnectionId}: upgrade refused with {Status}: {Message}",
            context.ConnectionId, rejection.StatusCode, rejection.Message);
        HandshakeResponse.WriteRejection(context.Transport.Output, rejection);
        await context.Transport.Output.FlushAsync().ConfigureAwait(false);
    }
}
