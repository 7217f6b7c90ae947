using System.Net;

namespace ChatGateway.WebSockets.Handshake;

/// <summary>An HTTP/1.1 request head that asked for the WebSocket path, as parsed from the wire.</summary>
public sealed class WebSocketUpgradeRequest
{
    private readonly List<KeyValuePair<string, string>> _headers;

    internal WebSocketUpgradeRequest(string method, string target, string version, List<KeyValuePair<string, string>> headers)
    {
        Method = method;
        Target = target;
        Version = version;
        _headers = headers;
        int query = target.IndexOf('?');
        Path = query < 0 ? target : target[..query];
        QueryString = query < 0 ? "" : target[(query + 1)..];
    }

    public string Method { get; }
    /// <summary>The request target as sent, path and query.</summary>
    public string Target { get; }
    public string Path { get; }
    /// <summary>The query without its '?', still percent-encoded.</summary>
    public string QueryString { get; }
    public string Version { get; }
    public IReadOnlyList<KeyValuePair<string, string>> Headers => _headers;

    /// <summary>
    /// The connection's remote address, asked of the connection when read: the transport makes it only on demand
    /// (72 B per connection otherwise, for an address most applications never look at).
    /// </summary>
    public EndPoint? RemoteEndPoint => Connection?.RemoteEndPoint;

    /// <summary>The connection the request came on, set by the middleware.</summary>
    internal Microsoft.AspNetCore.Connections.ConnectionContext? Connection { get; set; }

    /// <summary>The subprotocol the server picked, if any; set after validation.</summary>
    public string? Subprotocol { get; internal set; }

    /// <summary>The first value of a header (names compare case-insensitively), or null.</summary>
    public string? GetHeader(string name)
    {
        foreach (KeyValuePair<string, string> header in _headers)
        {
            if (string.Equals(header.Key, name, StringComparison.OrdinalIgnoreCase))
            {
                return header.Value;
            }
        }
        return null;
    }

    /// <summary>Every comma-separated element of every occurrence of a header, trimmed, empty ones dropped.</summary>
    public List<string> GetHeaderList(string name)
    {
        var values = new List<string>();
        foreach (KeyValuePair<string, string> header in _headers)
        {
            if (string.Equals(header.Key, name, StringComparison.OrdinalIgnoreCase))
            {
                foreach (string element in header.Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                {
                    values.Add(element);
                }
            }
        }
        return values;
    }

    /// <summary>How many times a header occurs.</summary>
    public int CountHeader(string name)
    {
        int count = 0;
        foreach (KeyValuePair<string, string> header in _headers)
        {
            if (string.Equals(header.Key, name, StringComparison.OrdinalIgnoreCase))
            {
                count++;
            }
        }
        return count;
    }

    /// <summary>The first value of a query parameter, percent-decoded, or null.</summary>
    public string? GetQueryParameter(string name)
    {
        foreach (string pair in QueryString.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=');
            string key = WebUtility.UrlDecode(eq < 0 ? pair : pair[..eq]);
            if (key == name)
            {
                return eq < 0 ? "" : WebUtility.UrlDecode(pair[(eq + 1)..]);
            }
        }
        return null;
    }
}
