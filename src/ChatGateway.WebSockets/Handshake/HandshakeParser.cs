using System.Buffers;
using System.Text;

namespace ChatGateway.WebSockets.Handshake;

/// <summary>
/// Parses the HTTP/1.1 request head of a WebSocket upgrade straight from the connection's input.
/// Runs once per connection, so it favours clarity over speed; it still never copies more than the
/// head and bounds it by the configured size (431 past it).
/// </summary>
public static class HandshakeParser
{
    private static ReadOnlySpan<byte> CrLf => "\r\n"u8;
    private static ReadOnlySpan<byte> EndOfHead => "\r\n\r\n"u8;

    /// <summary>Peeks at the request line to route the connection, without consuming anything.</summary>
    public static RequestLineMatch MatchRequestLine(in ReadOnlySequence<byte> buffer, string path, int maxHeadSize)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryReadTo(out ReadOnlySequence<byte> line, CrLf))
        {
            // A request line longer than a whole head is not an upgrade we would accept; let HTTP answer it.
            return buffer.Length > maxHeadSize ? RequestLineMatch.OtherRequest : RequestLineMatch.Incomplete;
        }
        if (line.Length > maxHeadSize)
        {
            return RequestLineMatch.OtherRequest;
        }
        Span<byte> copy = line.Length <= 1024 ? stackalloc byte[(int)line.Length] : new byte[line.Length];
        line.CopyTo(copy);
        int firstSpace = copy.IndexOf((byte)' ');
        if (firstSpace <= 0)
        {
            return RequestLineMatch.OtherRequest;
        }
        ReadOnlySpan<byte> target = copy[(firstSpace + 1)..];
        int end = target.IndexOfAny((byte)' ', (byte)'?');
        ReadOnlySpan<byte> requestPath = end < 0 ? target : target[..end];
        return requestPath.Length == path.Length && AsciiEquals(requestPath, path)
            ? RequestLineMatch.WebSocketPath
            : RequestLineMatch.OtherRequest;
    }

    /// <summary>
    /// Parses a whole request head. Done: <paramref name="request"/> is set and <paramref name="headEnd"/>
    /// is the position after the blank line. NeedMoreData: the head is incomplete and still within the limit.
    /// InvalidData: <paramref name="rejection"/> says what to answer (400 malformed, 431 too large).
    /// </summary>
    public static OperationStatus TryParse(
        in ReadOnlySequence<byte> buffer,
        int maxHeadSize,
        out WebSocketUpgradeRequest? request,
        out SequencePosition headEnd,
        out HandshakeRejection? rejection)
    {
        request = null;
        rejection = null;
        headEnd = buffer.Start;

        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryReadTo(out ReadOnlySequence<byte> head, EndOfHead))
        {
            if (buffer.Length > maxHeadSize)
            {
                rejection = new HandshakeRejection(431, "Request header fields too large");
                return OperationStatus.InvalidData;
            }
            return OperationStatus.NeedMoreData;
        }
        if (head.Length + EndOfHead.Length > maxHeadSize)
        {
            rejection = new HandshakeRejection(431, "Request header fields too large");
            return OperationStatus.InvalidData;
        }
        headEnd = reader.Position;

        byte[] rented = ArrayPool<byte>.Shared.Rent((int)head.Length);
        try
        {
            Span<byte> bytes = rented.AsSpan(0, (int)head.Length);
            head.CopyTo(bytes);
            request = Parse(bytes, out rejection);
            return request is null ? OperationStatus.InvalidData : OperationStatus.Done;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static WebSocketUpgradeRequest? Parse(ReadOnlySpan<byte> head, out HandshakeRejection? rejection)
    {
        rejection = null;
        int lineEnd = head.IndexOf(CrLf);
        ReadOnlySpan<byte> requestLine = lineEnd < 0 ? head : head[..lineEnd];
        ReadOnlySpan<byte> rest = lineEnd < 0 ? default : head[(lineEnd + 2)..];

        // request-line = method SP request-target SP HTTP-version (RFC 9112 §3)
        int sp1 = requestLine.IndexOf((byte)' ');
        int sp2 = sp1 < 0 ? -1 : requestLine[(sp1 + 1)..].IndexOf((byte)' ');
        if (sp1 <= 0 || sp2 <= 0)
        {
            rejection = HandshakeRejection.BadRequest("Malformed request line");
            return null;
        }
        ReadOnlySpan<byte> method = requestLine[..sp1];
        ReadOnlySpan<byte> target = requestLine.Slice(sp1 + 1, sp2);
        ReadOnlySpan<byte> version = requestLine[(sp1 + sp2 + 2)..];
        if (!IsToken(method) || !IsVisibleAscii(target) || !IsVisibleAscii(version))
        {
            rejection = HandshakeRejection.BadRequest("Malformed request line");
            return null;
        }

        var headers = new List<KeyValuePair<string, string>>();
        while (!rest.IsEmpty)
        {
            int end = rest.IndexOf(CrLf);
            ReadOnlySpan<byte> line = end < 0 ? rest : rest[..end];
            rest = end < 0 ? default : rest[(end + 2)..];

            int colon = line.IndexOf((byte)':');
            // A line starting with whitespace is obsolete line folding (RFC 9112 §5.2): rejected.
            if (colon <= 0 || !IsToken(line[..colon]))
            {
                rejection = HandshakeRejection.BadRequest("Malformed header line");
                return null;
            }
            ReadOnlySpan<byte> value = line[(colon + 1)..].Trim(" \t"u8);
            if (value.IndexOfAny((byte)'\r', (byte)'\n', (byte)0) >= 0)
            {
                rejection = HandshakeRejection.BadRequest("Malformed header value");
                return null;
            }
            headers.Add(new(Encoding.ASCII.GetString(line[..colon]), Encoding.Latin1.GetString(value)));
        }

        return new WebSocketUpgradeRequest(
            Encoding.ASCII.GetString(method),
            Encoding.ASCII.GetString(target),
            Encoding.ASCII.GetString(version),
            headers);
    }

    private static bool AsciiEquals(ReadOnlySpan<byte> bytes, string text)
    {
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] != text[i])
            {
                return false;
            }
        }
        return true;
    }

    // tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    private static readonly SearchValues<byte> TokenChars =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"u8);

    private static bool IsToken(ReadOnlySpan<byte> bytes) => !bytes.IsEmpty && !bytes.ContainsAnyExcept(TokenChars);

    private static bool IsVisibleAscii(ReadOnlySpan<byte> bytes) =>
        !bytes.IsEmpty && !bytes.ContainsAnyExceptInRange((byte)0x21, (byte)0x7E);
}
