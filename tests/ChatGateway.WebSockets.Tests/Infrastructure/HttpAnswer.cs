namespace ChatGateway.WebSockets.Tests.Infrastructure;

/// <summary>An HTTP/1.1 answer head as read off the wire.</summary>
public sealed record HttpAnswer(int Status, IReadOnlyList<KeyValuePair<string, string>> Headers, string Body = "")
{
    public static HttpAnswer Parse(string head)
    {
        string[] lines = head.Split("\r\n");
        string[] statusLine = lines[0].Split(' ', 3);
        Assert.Equal("HTTP/1.1", statusLine[0]);
        var headers = new List<KeyValuePair<string, string>>();
        foreach (string line in lines.Skip(1))
        {
            int colon = line.IndexOf(':');
            headers.Add(new(line[..colon], line[(colon + 1)..].Trim()));
        }
        return new HttpAnswer(int.Parse(statusLine[1]), headers);
    }

    public string? Header(string name) =>
        Headers.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value;
}
