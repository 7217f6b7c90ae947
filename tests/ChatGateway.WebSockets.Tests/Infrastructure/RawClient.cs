using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using ChatGateway.WebSockets.Framing;

namespace ChatGateway.WebSockets.Tests.Infrastructure;

/// <summary>
/// A WebSocket client on a bare socket that sends exactly the bytes a test asks for (unmasked frames,
/// reserved bits, broken lengths, payloads in chunks) and reads the server's frames strictly.
/// Every read is bounded by <see cref="Timeout"/> so a wrong server fails the test instead of hanging it.
/// </summary>
public sealed class RawClient : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RawClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    public static async Task<RawClient> OpenAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync("127.0.0.1", port);
        return new RawClient(socket);
    }

    /// <summary>Opens a connection and completes a standard upgrade; fails the test unless the answer is 101.</summary>
    public static async Task<RawClient> ConnectAsync(int port, string path = "/ws")
    {
        RawClient client = await OpenAsync(port);
        HttpAnswer answer = await client.HandshakeAsync(UpgradeRequest(port, path));
        Assert.Equal(101, answer.Status);
        return client;
    }

    public static string NewKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));

    public static string UpgradeRequest(int port, string path = "/ws", string? key = null, params string[] extraHeaders)
    {
        var text = new StringBuilder()
            .Append($"GET {path} HTTP/1.1\r\n")
            .Append($"Host: 127.0.0.1:{port}\r\n")
            .Append("Upgrade: websocket\r\n")
            .Append("Connection: Upgrade\r\n")
            .Append($"Sec-WebSocket-Key: {key ?? NewKey()}\r\n")
            .Append("Sec-WebSocket-Version: 13\r\n");
        foreach (string header in extraHeaders)
        {
            text.Append(header).Append("\r\n");
        }
        return text.Append("\r\n").ToString();
    }

    /// <summary>Sends a request head and reads the HTTP answer head (and a body of Content-Length).</summary>
    public async Task<HttpAnswer> HandshakeAsync(string request)
    {
        await SendRawAsync(Encoding.ASCII.GetBytes(request));
        return await ReadHttpAnswerAsync();
    }

    public async Task<HttpAnswer> ReadHttpAnswerAsync()
    {
        using var cts = new CancellationTokenSource(Timeout);
        while (true)
        {
            int end = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                string head = Encoding.ASCII.GetString(_buffer, _start, end);
                _start += end + 4;
                HttpAnswer answer = HttpAnswer.Parse(head);
                int bodyLength = int.TryParse(answer.Header("Content-Length"), out int n) ? n : 0;
                byte[] body = await ReadExactlyAsync(bodyLength, cts.Token);
                return answer with { Body = Encoding.UTF8.GetString(body) };
            }
            if (!await FillAsync(cts.Token))
            {
                throw new EndOfStreamException("connection closed before an HTTP answer");
            }
        }
    }

    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes) => await _stream.WriteAsync(bytes);

    /// <summary>Sends bytes in pieces of <paramref name="chunk"/> bytes, one write (and TCP segment, with NoDelay) each.</summary>
    public async Task SendChunkedAsync(byte[] bytes, int chunk)
    {
        for (int i = 0; i < bytes.Length; i += chunk)
        {
            await _stream.WriteAsync(bytes.AsMemory(i, Math.Min(chunk, bytes.Length - i)));
            await _stream.FlushAsync();
        }
    }

    public Task SendFrameAsync(WebSocketOpcode opcode, byte[] payload, bool fin = true, bool masked = true, byte reserved = 0) =>
        SendRawAsync(Frame(opcode, payload, fin, masked, reserved));

    public Task SendTextAsync(string text, bool fin = true) => SendFrameAsync(WebSocketOpcode.Text, Encoding.UTF8.GetBytes(text), fin);

    public Task SendCloseAsync(ushort code, string reason = "")
    {
        byte[] payload = new byte[2 + Encoding.UTF8.GetByteCount(reason)];
        BinaryPrimitives.WriteUInt16BigEndian(payload, code);
        Encoding.UTF8.GetBytes(reason, payload.AsSpan(2));
        return SendFrameAsync(WebSocketOpcode.Close, payload);
    }

    /// <summary>Encodes a client frame the way the test wants it, valid or not.</summary>
    public static byte[] Frame(WebSocketOpcode opcode, byte[] payload, bool fin = true, bool masked = true, byte reserved = 0)
    {
        int lengthBytes = payload.Length <= 125 ? 0 : payload.Length <= ushort.MaxValue ? 2 : 8;
        int headerLength = 2 + lengthBytes + (masked ? 4 : 0);
        var frame = new byte[headerLength + payload.Length];
        frame[0] = (byte)((fin ? 0x80 : 0) | (reserved << 4) | (byte)opcode);
        frame[1] = (byte)((masked ? 0x80 : 0) | (lengthBytes switch { 0 => payload.Length, 2 => 126, _ => 127 }));
        if (lengthBytes == 2)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)payload.Length);
        }
        else if (lengthBytes == 8)
        {
            BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), (ulong)payload.Length);
        }
        payload.CopyTo(frame, headerLength);
        if (masked)
        {
            byte[] key = RandomNumberGenerator.GetBytes(4);
            key.CopyTo(frame, headerLength - 4);
            WebSocketMask.Apply(frame.AsSpan(headerLength), BinaryPrimitives.ReadUInt32LittleEndian(key), 0);
        }
        return frame;
    }

    /// <summary>Reads the next frame the server sent; server frames must never be masked.</summary>
    public async Task<ReceivedFrame> ReceiveFrameAsync()
    {
        using var cts = new CancellationTokenSource(Timeout);
        byte[] head = await ReadExactlyAsync(2, cts.Token);
        int length7 = head[1] & 0x7F;
        long length = length7 switch
        {
            126 => BinaryPrimitives.ReadUInt16BigEndian(await ReadExactlyAsync(2, cts.Token)),
            127 => (long)BinaryPrimitives.ReadUInt64BigEndian(await ReadExactlyAsync(8, cts.Token)),
            _ => length7,
        };
        bool masked = (head[1] & 0x80) != 0;
        byte[] payload = await ReadExactlyAsync((int)length, cts.Token);
        return new ReceivedFrame((WebSocketOpcode)(head[0] & 0x0F), (head[0] & 0x80) != 0, (byte)((head[0] >> 4) & 7), masked, payload);
    }

    /// <summary>Reads frames up to the server's close frame and returns its code; then asserts TCP closes.</summary>
    public async Task<ushort> ExpectCloseAsync()
    {
        ReceivedFrame frame;
        do
        {
            frame = await ReceiveFrameAsync();
        }
        while (frame.Opcode != WebSocketOpcode.Close);
        Assert.False(frame.Masked);
        await ExpectEndOfStreamAsync();
        return frame.CloseCode;
    }

    /// <summary>Asserts that the server closes the TCP connection (after any bytes already in flight).</summary>
    public async Task ExpectEndOfStreamAsync()
    {
        using var cts = new CancellationTokenSource(Timeout);
        _start = _end;
        try
        {
            while (await FillAsync(cts.Token))
            {
                _start = _end;
            }
        }
        catch (IOException)
        {
            // a reset also ends the stream
        }
    }

    private async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
    {
        var result = new byte[count];
        int copied = 0;
        while (copied < count)
        {
            if (_start == _end && !await FillAsync(cancellationToken))
            {
                throw new EndOfStreamException($"connection closed after {copied} of {count} bytes");
            }
            int n = Math.Min(count - copied, _end - _start);
            Buffer.BlockCopy(_buffer, _start, result, copied, n);
            _start += n;
            copied += n;
        }
        return result;
    }

    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }
        else if (_end == _buffer.Length)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        int read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
        _end += read;
        return read > 0;
    }

    public async ValueTask DisposeAsync() => await _stream.DisposeAsync();
}
