using System.Security.Cryptography;
using System.Text;

namespace ChatGateway.WebSockets.Handshake;

/// <summary>
/// Checks an upgrade request against RFC 6455 §4.2.1 and the server's options, and computes the
/// answer's Sec-WebSocket-Accept. Status codes: 405 not GET, 400 not HTTP/1.1 or no Host or a bad
/// key, 426 no Upgrade/Connection tokens or a version other than 13, 403 Origin not allowed.
/// </summary>
public static class HandshakeValidator
{
    private const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>Returns null when the request may be upgraded (and sets its chosen subprotocol).</summary>
    public static HandshakeRejection? Validate(WebSocketUpgradeRequest request, WebSocketServerOptions options, out string acceptKey)
    {
        acceptKey = "";
        if (request.Method != "GET")
        {
            return new HandshakeRejection(405, "WebSocket upgrade requires GET", [new("Allow", "GET")]);
        }
        if (request.Version != "HTTP/1.1")
        {
            return HandshakeRejection.BadRequest("WebSocket upgrade requires HTTP/1.1");
        }
        if (request.CountHeader("Host") != 1)
        {
            return HandshakeRejection.BadRequest("Exactly one Host header is required");
        }
        if (!ContainsToken(request.GetHeaderList("Upgrade"), "websocket") || !ContainsToken(request.GetHeaderList("Connection"), "Upgrade"))
        {
            return new HandshakeRejection(426, "This endpoint only serves WebSocket upgrades",
                [new("Upgrade", "websocket"), new("Connection", "Upgrade")]);
        }
        if (request.CountHeader("Sec-WebSocket-Version") != 1 || request.GetHeader("Sec-WebSocket-Version") != "13")
        {
            return new HandshakeRejection(426, "Unsupported WebSocket version", [new("Sec-WebSocket-Version", "13")]);
        }
        string? key = request.GetHeader("Sec-WebSocket-Key");
        if (key is null || request.CountHeader("Sec-WebSocket-Key") != 1 || !IsValidKey(key))
        {
            return HandshakeRejection.BadRequest("Sec-WebSocket-Key must be the base64 encoding of 16 bytes");
        }
        string? origin = request.GetHeader("Origin");
        if (origin is not null && options.AllowedOrigins.Count > 0 && !ContainsToken(options.AllowedOrigins, origin))
        {
            return new HandshakeRejection(403, "Origin not allowed");
        }

        request.Subprotocol = ChooseSubprotocol(request.GetHeaderList("Sec-WebSocket-Protocol"), options.Subprotocols);
        acceptKey = ComputeAcceptKey(key);
        return null;
    }

    /// <summary>base64(SHA-1(key + GUID)) as in RFC 6455 §4.2.2.</summary>
    public static string ComputeAcceptKey(string key)
    {
        Span<byte> input = stackalloc byte[128];
        int length = Encoding.ASCII.GetBytes(key + AcceptGuid, input);
        Span<byte> hash = stackalloc byte[SHA1.HashSizeInBytes];
        SHA1.HashData(input[..length], hash);
        return Convert.ToBase64String(hash);
    }

    private static bool IsValidKey(string key)
    {
        Span<byte> decoded = stackalloc byte[18];
        return key.Length == 24 && Convert.TryFromBase64String(key, decoded, out int written) && written == 16;
    }

    private static string? ChooseSubprotocol(List<string> offered, List<string> supported)
    {
        foreach (string candidate in offered)
        {
            // Subprotocol names are case-sensitive tokens (RFC 6455 §11.5); answer with the client's spelling.
            if (supported.Contains(candidate, StringComparer.Ordinal))
            {
                return candidate;
            }
        }
        return null;
    }

    private static bool ContainsToken(List<string> values, string token)
    {
        foreach (string value in values)
        {
            if (string.Equals(value, token, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }
}
