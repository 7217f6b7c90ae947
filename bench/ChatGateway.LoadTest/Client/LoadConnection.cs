using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ChatGateway.WebSockets.Framing;

namespace ChatGateway.LoadTest.Client;

/// <summary>
/// A WebSocket client on a bare socket with its own framing, so the load generator is not the bottleneck:
/// frames are appended to one send buffer and leave in one send call (pipelining), received frames are
/// parsed in place in one receive buffer, and nothing is allocated per frame. Masking uses the gateway's
/// vectorised masker with one random key per connection. One task sends (Append, FlushAsync) and one receives;
/// pongs from the receiving side go out under the same send lock. The raw TCP relay (a comparison server)
/// uses the same buffers with <c>[length: i32 LE][payload]</c> frames instead of WebSocket frames.
/// </summary>
public sealed class LoadConnection : IDisposable
{
    private readonly Socket _socket;
    private readonly uint _mask;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private byte[] _send = new byte[256];
    private int _sendLength;
    private byte[] _receive = new byte[4096]; // grows for larger frames: an idle connection costs little
    private int _receiveStart;
    private int _receiveEnd;

    private readonly bool _lengthPrefixed;

    /// <summary>
    /// Sockets of this process connect, send and receive with blocking calls (and a <see cref="ReceivePoller"/>
    /// reads them) instead of the runtime's asynchronous ones. Set once, before connecting, by a worker whose
    /// scenario receives through a poller (`rate`): a socket that ever ran an asynchronous operation stays in the
    /// runtime's epoll set, whose thread then wakes a pool thread for every arrival even though nobody waits.
    /// </summary>
    public static bool BlockingSockets { get; set; }

    private LoadConnection(Socket socket, bool lengthPrefixed)
    {
        _socket = socket;
        _lengthPrefixed = lengthPrefixed;
        _mask = (uint)Random.Shared.Next() | 1;
    }

    /// <summary>A WebSocket session on the gateway, authenticated with <paramref name="token"/>.</summary>
    public static Task<LoadConnection> ConnectAsync(IPEndPoint server, string token, CancellationToken cancellationToken = default) =>
        ConnectWebSocketAsync(server, "/ws?access_token=" + token, cancellationToken);

    /// <summary>A WebSocket upgrade of <paramref name="pathAndQuery"/>; returns once the server answered 101.</summary>
    public static async Task<LoadConnection> ConnectWebSocketAsync(IPEndPoint server, string pathAndQuery, CancellationToken cancellationToken = default)
    {
        Socket socket = await OpenAsync(server, cancellationToken).ConfigureAwait(false);
        try
        {
            string request = $"GET {pathAndQuery} HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
            await SendAllAsync(socket, Encoding.ASCII.GetBytes(request), cancellationToken).ConfigureAwait(false);
            var connection = new LoadConnection(socket, lengthPrefixed: false);
            await connection.ReadHandshakeAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A plain TCP connection carrying length-prefixed frames (the raw relay baseline).</summary>
    public static async Task<LoadConnection> ConnectLengthPrefixedAsync(IPEndPoint server, CancellationToken cancellationToken = default) =>
        new(await OpenAsync(server, cancellationToken).ConfigureAwait(false), lengthPrefixed: true);

    /// <summary>
    /// The loopback address this process connects from (null: the kernel's choice). Every connection to one server
    /// takes an ephemeral port of its source address; past ~10,000 on one address (of 28,232) new connects slowed
    /// to a third for every server, so each idle worker connects from an address of its own.
    /// </summary>
    public static IPAddress? SourceAddress { get; set; }

    private const int IpProtocolLevel = 0; // SOL_IP
    private const int IpBindAddressNoPort = 24; // IP_BIND_ADDRESS_NO_PORT (Linux 4.2+)

    private static async Task<Socket> OpenAsync(IPEndPoint server, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (SourceAddress is { } source)
            {
                // IP_BIND_ADDRESS_NO_PORT: the port is chosen at connect, for the 4-tuple, as without a bind. Chosen at
                // bind, it could not reuse the ports that the previous server's closed connections left in TIME_WAIT, and
                // the next server's connects crawled (~500/s).
                socket.SetRawSocketOption(IpProtocolLevel, IpBindAddressNoPort, BitConverter.GetBytes(1));
                socket.Bind(new IPEndPoint(source, 0));
            }
            if (BlockingSockets)
            {
                socket.Connect(server);
                return socket;
            }
            await socket.ConnectAsync(server, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async Task ReadHandshakeAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            int read = BlockingSockets
                ? _socket.Receive(_receive.AsSpan(_receiveEnd))
                : await _socket.ReceiveAsync(_receive.AsMemory(_receiveEnd), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new IOException("closed during the handshake");
            }
            _receiveEnd += read;
            int end = _receive.AsSpan(0, _receiveEnd).IndexOf("\r\n\r\n"u8);
            if (end < 0)
            {
                continue;
            }
            if (!_receive.AsSpan(0, end).StartsWith("HTTP/1.1 101"u8))
            {
                throw new IOException("upgrade refused: " + Encoding.ASCII.GetString(_receive, 0, Math.Min(end, 200)));
            }
            _receiveStart = end + 4; // frames may follow right behind the head
            return;
        }
    }

    /// <summary>Appends one masked binary frame; it leaves with the next <see cref="FlushAsync"/>.</summary>
    public void Append(ReadOnlySpan<byte> payload, WebSocketOpcode opcode = WebSocketOpcode.Binary)
    {
        int needed = 14 + payload.Length;
        if (_send.Length - _sendLength < needed)
        {
            Array.Resize(ref _send, Math.Max(_send.Length * 2, _sendLength + needed));
        }
        Span<byte> frame = _send.AsSpan(_sendLength);
        if (_lengthPrefixed)
        {
            BinaryPrimitives.WriteInt32LittleEndian(frame, payload.Length);
            payload.CopyTo(frame[4..]);
            _sendLength += 4 + payload.Length;
            return;
        }
        frame[0] = (byte)(0x80 | (byte)opcode);
        int header;
        if (payload.Length < 126)
        {
            frame[1] = (byte)(0x80 | payload.Length);
            header = 2;
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            frame[1] = 0x80 | 126;
            BinaryPrimitives.WriteUInt16BigEndian(frame[2..], (ushort)payload.Length);
            header = 4;
        }
        else
        {
            frame[1] = 0x80 | 127;
            BinaryPrimitives.WriteUInt64BigEndian(frame[2..], (ulong)payload.Length);
            header = 10;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(frame[header..], _mask);
        payload.CopyTo(frame[(header + 4)..]);
        WebSocketMask.Apply(frame.Slice(header + 4, payload.Length), _mask, 0);
        _sendLength += header + 4 + payload.Length;
    }

    public int Pending => _sendLength;

    /// <summary>The unread tail of a message stream split across frames (SignalR); empty and tiny otherwise.</summary>
    public ArrayBufferWriter<byte> Carry => _carry ??= new ArrayBufferWriter<byte>(256);

    private ArrayBufferWriter<byte>? _carry;

    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await SendAllAsync(_socket, _send.AsMemory(0, _sendLength), cancellationToken).ConfigureAwait(false);
            _sendLength = 0;
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>
    /// Sends what the socket takes of the appended frames now, without waiting (Linux); true when nothing is left. What
    /// it did not take stays at the front of the buffer for the next call, behind which new frames are appended. For a
    /// thread that also receives for this connection's server (`rate`), which a full send buffer must not stall.
    /// </summary>
    public bool TrySendBuffered()
    {
        if (!ChatGateway.WebSockets.Transport.NonBlockingSocket.Supported)
        {
            FlushAsync().AsTask().GetAwaiter().GetResult();
            return true;
        }
        int sent = 0;
        while (sent < _sendLength)
        {
            int taken = ChatGateway.WebSockets.Transport.NonBlockingSocket.Send(_socket.SafeHandle, _send.AsSpan(sent, _sendLength - sent), out SocketError error);
            if (error == SocketError.WouldBlock)
            {
                break;
            }
            if (error != SocketError.Success)
            {
                throw new SocketException((int)error);
            }
            sent += taken;
        }
        _send.AsSpan(sent, _sendLength - sent).CopyTo(_send);
        _sendLength -= sent;
        return _sendLength == 0;
    }

    private static async ValueTask SendAllAsync(Socket socket, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        int sent = 0;
        while (sent < bytes.Length)
        {
            sent += BlockingSockets
                ? socket.Send(bytes.Span[sent..])
                : await socket.SendAsync(bytes[sent..], cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask PongAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        byte[] frame = new byte[6 + payload.Length]; // rare: only after 30 s of silence
        frame[0] = 0x80 | (byte)WebSocketOpcode.Pong;
        frame[1] = (byte)(0x80 | payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(2), _mask);
        payload.Span.CopyTo(frame.AsSpan(6));
        WebSocketMask.Apply(frame.AsSpan(6), _mask, 0);
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await SendAllAsync(_socket, frame, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>
    /// The next data frame's payload (valid until the next call); pings are answered, pongs skipped. Returns
    /// false when the connection ends (close frame or EOF).
    /// </summary>
    public async ValueTask<(bool Open, ReadOnlyMemory<byte> Payload)> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (TryParse(out WebSocketOpcode opcode, out ReadOnlyMemory<byte> payload))
            {
                switch (opcode)
                {
                    case WebSocketOpcode.Binary or WebSocketOpcode.Text or WebSocketOpcode.Continuation:
                        return (true, payload); // fragments in order: SignalR splits its message stream anywhere
                    case WebSocketOpcode.Close:
                        return (false, default);
                    case WebSocketOpcode.Ping:
                        await PongAsync(payload, cancellationToken).ConfigureAwait(false);
                        continue;
                    default:
                        continue;
                }
            }
            MakeRoom();
            int read = BlockingSockets
                ? _socket.Receive(_receive.AsSpan(_receiveEnd))
                : await _socket.ReceiveAsync(_receive.AsMemory(_receiveEnd), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return (false, default);
            }
            _receiveEnd += read;
        }
    }

    /// <summary>Moves unread bytes to the front of the receive buffer, and grows it when it is full.</summary>
    private void MakeRoom()
    {
        if (_receiveStart > 0)
        {
            _receive.AsSpan(_receiveStart, _receiveEnd - _receiveStart).CopyTo(_receive);
            _receiveEnd -= _receiveStart;
            _receiveStart = 0;
        }
        if (_receiveEnd == _receive.Length)
        {
            Array.Resize(ref _receive, _receive.Length * 2);
        }
    }

    /// <summary>
    /// For a <see cref="ReceivePoller"/>: receives what the socket holds without waiting and hands every complete
    /// data frame to <paramref name="wire"/> (pings answered, pongs skipped). False when the connection ended.
    /// </summary>
    public bool ReceiveAvailable(Targets.Wire wire, Targets.IInbound inbound)
    {
        MakeRoom();
        int read = ChatGateway.WebSockets.Transport.NonBlockingSocket.Supported
            ? ChatGateway.WebSockets.Transport.NonBlockingSocket.Receive(_socket.SafeHandle, _receive.AsSpan(_receiveEnd), out SocketError error)
            : _socket.Receive(_receive.AsSpan(_receiveEnd), SocketFlags.None, out error);
        if (error == SocketError.WouldBlock)
        {
            return true;
        }
        if (error != SocketError.Success || read == 0)
        {
            return false;
        }
        _receiveEnd += read;
        return ReadBuffered(wire, inbound);
    }

    /// <summary>Hands every complete frame already received to <paramref name="wire"/>; false at a close frame.</summary>
    public bool ReadBuffered(Targets.Wire wire, Targets.IInbound inbound)
    {
        while (TryParse(out WebSocketOpcode opcode, out ReadOnlyMemory<byte> payload))
        {
            switch (opcode)
            {
                case WebSocketOpcode.Binary or WebSocketOpcode.Text or WebSocketOpcode.Continuation:
                    wire.Read(this, payload, inbound);
                    break;
                case WebSocketOpcode.Close:
                    return false;
                case WebSocketOpcode.Ping:
                    PongAsync(payload, CancellationToken.None).AsTask().GetAwaiter().GetResult(); // rare: after 30 s of silence
                    break;
            }
        }
        inbound.OnBatchEnd();
        return true;
    }

    /// <summary>
    /// The next data frame if one is already in the receive buffer (no I/O), so a sender can take every ack
    /// that arrived together before it refills its window: one flush then carries many sends.
    /// </summary>
    public bool TryReceiveBuffered(out ReadOnlyMemory<byte> payload)
    {
        int start = _receiveStart;
        if (TryParse(out WebSocketOpcode opcode, out payload))
        {
            if (opcode is WebSocketOpcode.Binary or WebSocketOpcode.Text or WebSocketOpcode.Continuation)
            {
                return true;
            }
            _receiveStart = start; // a control frame: ReceiveAsync answers it
        }
        payload = default;
        return false;
    }

    /// <summary>Server frames are never masked; the gateway never fragments (docs/protocol.md), peers may.</summary>
    private bool TryParse(out WebSocketOpcode opcode, out ReadOnlyMemory<byte> payload)
    {
        opcode = default;
        payload = default;
        ReadOnlySpan<byte> data = _receive.AsSpan(_receiveStart, _receiveEnd - _receiveStart);
        if (_lengthPrefixed)
        {
            return TryParseLengthPrefixed(data, out opcode, out payload);
        }
        if (data.Length < 2)
        {
            return false;
        }
        int length = data[1] & 0x7F;
        int header = 2;
        if (length == 126)
        {
            if (data.Length < 4)
            {
                return false;
            }
            length = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
            header = 4;
        }
        else if (length == 127)
        {
            if (data.Length < 10)
            {
                return false;
            }
            length = checked((int)BinaryPrimitives.ReadUInt64BigEndian(data[2..]));
            header = 10;
        }
        if (data.Length < header + length)
        {
            if (_receive.Length < header + length)
            {
                Array.Resize(ref _receive, header + length + 1024);
            }
            return false;
        }
        opcode = (WebSocketOpcode)(data[0] & 0x0F);
        payload = _receive.AsMemory(_receiveStart + header, length);
        _receiveStart += header + length;
        return true;
    }

    private bool TryParseLengthPrefixed(ReadOnlySpan<byte> data, out WebSocketOpcode opcode, out ReadOnlyMemory<byte> payload)
    {
        opcode = WebSocketOpcode.Binary;
        payload = default;
        if (data.Length < 4)
        {
            return false;
        }
        int length = BinaryPrimitives.ReadInt32LittleEndian(data);
        if (data.Length < 4 + length)
        {
            if (_receive.Length < 4 + length)
            {
                Array.Resize(ref _receive, 4 + length + 1024);
            }
            return false;
        }
        payload = _receive.AsMemory(_receiveStart + 4, length);
        _receiveStart += 4 + length;
        return true;
    }

    internal Socket Socket => _socket;

    public void Dispose() => _socket.Dispose();
}
