using System.Buffers;
using System.Text;

namespace ChatGateway.WebSockets.Handshake;

/// <summary>Writes the HTTP/1.1 answers to an upgrade request.</summary>
public static class HandshakeResponse
{
    /// <summary>
    /// 101 Switching Protocols. No Sec-WebSocket-Extensions header is ever sent: offers such as
    /// permessage-deflate are declined by omission, which every client must accept (RFC 6455 §9.1).
    /// </summary>
    public static void WriteSwitchingProtocols(IBufferWriter<byte> output, string acceptKey, string? subprotocol)
    {
        var text = new StringBuilder(160)
            .Append("HTTP/1.1 101 Switching Protocols\r\n")
            .Append("Upgrade: websocket\r\n")
            .Append("Connection: Upgrade\r\n")
            .Append("Sec-WebSocket-Accept: ").Append(acceptKey).Append("\r\n");
        if (subprotocol is not null)
        {
            text.Append("Sec-WebSocket-Protocol: ").Append(subprotocol).Append("\r\n");
        }
        text.Append("\r\n");
        Write(output, text.ToString());
    }

    /// <summary>An error answer with a plain-text body; the connection closes after it.</summary>
    public static void WriteRejection(IBufferWriter<byte> output, HandshakeRejection rejection)
    {
        string body = rejection.Message + "\n";
        var text = new StringBuilder(256)
            .Append("HTTP/1.1 ").Append(rejection.StatusCode).Append(' ').Append(ReasonPhrase(rejection.StatusCode)).Append("\r\n")
            .Append("Content-Type: text/plain; charset=utf-8\r\n")
            .Append("Content-Length: ").Append(Encoding.UTF8.GetByteCount(body)).Append("\r\n")
            .Append("Connection: close\r\n");
        if (rejection.Headers is not null)
        {
            foreach (KeyValuePair<string, string> header in rejection.Headers)
            {
                text.Append(header.Key).Append(": ").Append(header.Value).Append("\r\n");
            }
        }
        text.Append("\r\n").Append(body);
        Write(output, text.ToString());
    }

    private static void Write(IBufferWriter<byte> output, string text)
    {
        int length = Encoding.UTF8.GetByteCount(text);
        Span<byte> span = output.GetSpan(length);
        Encoding.UTF8.GetBytes(text, span);
        output.Advance(length);
    }

    private static string ReasonPhrase(int status) => status switch
    {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
}
