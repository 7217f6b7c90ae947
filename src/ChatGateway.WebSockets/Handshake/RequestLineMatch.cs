namespace ChatGateway.WebSockets.Handshake;

/// <summary>What the first line of a request says about who should serve the connection.</summary>
public enum RequestLineMatch
{
    /// <summary>The request line has not arrived whole yet.</summary>
    Incomplete,
    /// <summary>Not the WebSocket path: hand the connection to the HTTP pipeline untouched.</summary>
    OtherRequest,
    /// <summary>A request for the WebSocket path: this layer answers it.</summary>
    WebSocketPath,
}
