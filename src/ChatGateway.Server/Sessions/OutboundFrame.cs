using System.Buffers;
using System.Collections.Concurrent;
using ChatGateway.WebSockets.Framing;
using MessagePack;

namespace ChatGateway.Server.Sessions;

/// <summary>
/// One complete server WebSocket frame (header + MessagePack payload) in a pooled buffer, shared by reference
/// count: a Deliver to a group is encoded once and the same bytes are queued on every recipient's session
/// (server frames are unmasked, so every copy would be identical). The payload is written first, after
/// <see cref="HeaderRoom"/> reserved bytes; <see cref="Seal"/> then puts the header right before it.
/// </summary>
public sealed class OutboundFrame : IBufferWriter<byte>
{
    public const int HeaderRoom = 10; // the longest header of an unmasked frame
    private const int MaxPooledFrames = 16_384;

    /// <summary>
    /// A pooled frame keeps a buffer up to this size: most frames (acks, Delivers of chat-sized bodies) fit, and
    /// renting them from the shared ArrayPool per message churned: with thousands in flight its per-core stacks ran
    /// dry and returns were dropped, 65 MB/s of garbage byte arrays at 150k messages/s (gc-verbose trace).
    /// Bounded: 16,384 pooled frames × 1 KiB.
    /// </summary>
    private const int KeptBufferBytes = 1024;
    private static readonly ConcurrentQueue<OutboundFrame> Pool = new();

    private byte[] _buffer = [];
    private int _start;
    private int _end;
    private int _references;

    /// <summary>
    /// Holds several small complete frames back to back (<see cref="RentForSmallFrames"/>), not one frame written and
    /// sealed: on the wire the two are the same bytes. Such a frame belongs to one session's queue and is never shared.
    /// </summary>
    public bool CarriesSeveral { get; private set; }

    private OutboundFrame() { }

    /// <summary>A frame holding one reference, ready to be written (<paramref name="sizeHint"/> payload bytes expected).</summary>
    public static OutboundFrame Rent(int sizeHint = 256)
    {
        if (!Pool.TryDequeue(out OutboundFrame? frame))
        {
            frame = new OutboundFrame();
        }
        int needed = HeaderRoom + Math.Max(sizeHint, 64);
        if (frame._buffer.Length < needed)
        {
            if (frame._buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(frame._buffer);
            }
            frame._buffer = ArrayPool<byte>.Shared.Rent(Math.Max(needed, KeptBufferBytes / 2));
        }
        frame._start = frame._end = HeaderRoom;
        frame._references = 1;
        frame.CarriesSeveral = false;
        return frame;
    }

    /// <summary>An empty frame for <see cref="TryAppendFrame"/>: room for about a dozen acks (~37 bytes each) in the buffer a pooled frame keeps anyway.</summary>
    public static OutboundFrame RentForSmallFrames()
    {
        OutboundFrame frame = Rent(KeptBufferBytes / 2 - HeaderRoom);
        frame.CarriesSeveral = true;
        return frame;
    }

    /// <summary>Appends <paramref name="payload"/> as a complete frame of its own (binary, FIN); false when it does not fit.</summary>
    public bool TryAppendFrame(ReadOnlySpan<byte> payload)
    {
        int header = FrameWriter.HeaderLength(payload.Length);
        if (_buffer.Length - _end < header + payload.Length)
        {
            return false;
        }
        FrameWriter.WriteHeader(_buffer.AsSpan(_end), WebSocketOpcode.Binary, fin: true, payload.Length);
        payload.CopyTo(_buffer.AsSpan(_end + header));
        _end += header + payload.Length;
        return true;
    }

    /// <summary>A writer over this frame's payload; flush it before <see cref="Seal"/>.</summary>
    public MessagePackWriter Writer() => new(this);

    public int PayloadLength => _end - HeaderRoom;

    /// <summary>The payload written so far, for patching in place (see the Deliver template).</summary>
    public Span<byte> Payload => _buffer.AsSpan(HeaderRoom, _end - HeaderRoom);

    /// <summary>The last <paramref name="length"/> payload bytes (a Deliver's body), for the store to read where they are.</summary>
    public ReadOnlyMemory<byte> PayloadTail(int length) => _buffer.AsMemory(_end - length, length);

    /// <summary>Puts the WebSocket header (binary, FIN) before the payload. Call once, after the payload is complete.</summary>
    public OutboundFrame Seal()
    {
        int payload = PayloadLength;
        _start = HeaderRoom - FrameWriter.HeaderLength(payload);
        FrameWriter.WriteHeader(_buffer.AsSpan(_start), WebSocketOpcode.Binary, fin: true, payload);
        return this;
    }

    /// <summary>The whole frame, header included.</summary>
    public ReadOnlySpan<byte> Bytes => _buffer.AsSpan(_start, _end - _start);

    public int Length => _end - _start;

    public OutboundFrame AddReference()
    {
        Interlocked.Increment(ref _references);
        return this;
    }

    /// <summary>Drops one reference; the last one returns the buffer and the frame to their pools.</summary>
    public void Release()
    {
        int left = Interlocked.Decrement(ref _references);
        if (left > 0)
        {
            return;
        }
        if (left < 0)
        {
            throw new InvalidOperationException("an outbound frame was released more often than referenced");
        }
        if (Pool.Count >= MaxPooledFrames)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
            return;
        }
        if (_buffer.Length > KeptBufferBytes)
        {
            ArrayPool<byte>.Shared.Return(_buffer); // a large frame's buffer goes back; small ones stay with their frame
            _buffer = [];
        }
        Pool.Enqueue(this);
    }

    /// <summary>Adds <paramref name="count"/> bytes written into <see cref="GetSpan"/> to the payload.</summary>
    public void Advance(int count) => _end += count;

    Memory<byte> IBufferWriter<byte>.GetMemory(int sizeHint)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_end);
    }

    /// <summary>Room for at least <paramref name="sizeHint"/> more payload bytes, written straight (then <see cref="Advance"/>).</summary>
    public Span<byte> GetSpan(int sizeHint)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_end);
    }

    private void Ensure(int sizeHint)
    {
        int needed = Math.Max(sizeHint, 1);
        if (_buffer.Length - _end >= needed)
        {
            return;
        }
        byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _end + needed));
        _buffer.AsSpan(0, _end).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }
}
