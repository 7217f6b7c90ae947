using System.Buffers;
using System.Runtime.InteropServices;

namespace ChatGateway.WebSockets.Framing;

/// <summary>
/// Reads client frames from a connection's input, one at a time, applying every framing rule of
/// RFC 6455 that does not need a reply: masking required, RSV bits clear, known opcodes, control
/// frames short and unfragmented, continuation order, message size, and UTF-8 of text messages.
/// <para>
/// Payloads are unmasked in place, in the pipe's own buffers, as their bytes arrive: a frame that
/// arrives over several reads is unmasked and UTF-8-checked piece by piece (so invalid text fails
/// on the read that brings it, not when the frame ends), and no byte is unmasked twice. The frame
/// itself is returned only when complete, so a single-frame message reaches the application as one
/// slice of the input with no copy.
/// </para>
/// Mutable struct: keep it in a field and call it through that field.
/// </summary>
public struct FrameReader
{
    private readonly long _maxMessageSize;

    // The frame being read: its header and how many payload bytes are already unmasked and checked.
    private FrameHeader _header;
    private bool _hasHeader;
    private long _processed;

    // The data message being read, which may span frames.
    private WebSocketOpcode _messageOpcode; // Continuation = no message open
    private long _messageLength;
    private Utf8StreamValidator _utf8;

    public FrameReader(long maxMessageSize)
    {
        _maxMessageSize = maxMessageSize;
    }

    /// <summary>True between the first and the final frame of a fragmented data message.</summary>
    public readonly bool InFragmentedMessage => _messageOpcode != WebSocketOpcode.Continuation;

    /// <summary>The opcode (Text or Binary) of the fragmented message being read.</summary>
    public readonly WebSocketOpcode FragmentedMessageOpcode => _messageOpcode;

    /// <summary>
    /// Tries to read the next frame from the start of <paramref name="buffer"/>.
    /// Done: <paramref name="frame"/> is set and <paramref name="buffer"/> now starts after it.
    /// NeedMoreData: <paramref name="buffer"/> is unchanged; call again with the same start and more bytes.
    /// InvalidData: the connection must be failed with <paramref name="closeCode"/>.
    /// </summary>
    public OperationStatus TryRead(ref ReadOnlySequence<byte> buffer, out Frame frame, out ushort closeCode)
    {
        frame = default;
        closeCode = 0;
        if (!_hasHeader)
        {
            OperationStatus status = FrameHeader.TryRead(buffer, out _header, out closeCode);
            if (status != OperationStatus.Done)
            {
                return status;
            }
            closeCode = Validate(_header);
            if (closeCode != 0)
            {
                return OperationStatus.InvalidData;
            }
            _hasHeader = true;
            _processed = 0;
        }

        long payloadLength = _header.PayloadLength;
        long available = Math.Min(buffer.Length - _header.HeaderLength, payloadLength);
        if (available > _processed)
        {
            ReadOnlySequence<byte> fresh = buffer.Slice(_header.HeaderLength + _processed, available - _processed);
            if (!UnmaskAndCheck(fresh))
            {
                closeCode = WebSocketCloseCode.InvalidPayloadData;
                return OperationStatus.InvalidData;
            }
            _processed = available;
        }
        if (_processed < payloadLength)
        {
            return OperationStatus.NeedMoreData;
        }

        FrameHeader header = _header;
        _hasHeader = false;
        if (!header.Opcode.IsControl())
        {
            if (header.Fin)
            {
                if (IsTextMessage(header.Opcode) && !_utf8.IsComplete)
                {
                    closeCode = WebSocketCloseCode.InvalidPayloadData; // ends inside a code point
                    return OperationStatus.InvalidData;
                }
                _messageOpcode = WebSocketOpcode.Continuation;
                _messageLength = 0;
                _utf8.Reset();
            }
            else if (header.Opcode != WebSocketOpcode.Continuation)
            {
                _messageOpcode = header.Opcode;
            }
        }

        frame = new Frame(header.Opcode, header.Fin, buffer.Slice(header.HeaderLength, payloadLength));
        buffer = buffer.Slice(header.HeaderLength + payloadLength);
        return OperationStatus.Done;
    }

    private ushort Validate(in FrameHeader header)
    {
        if (header.ReservedBits != 0)
        {
            return WebSocketCloseCode.ProtocolError; // no extension is ever negotiated
        }
        if (!header.Opcode.IsDefined())
        {
            return WebSocketCloseCode.ProtocolError;
        }
        if (!header.Masked)
        {
            return WebSocketCloseCode.ProtocolError; // §5.1: a server MUST close on an unmasked client frame
        }
        if (header.Opcode.IsControl())
        {
            return header.PayloadLength > 125 || !header.Fin ? WebSocketCloseCode.ProtocolError : (ushort)0;
        }
        bool open = InFragmentedMessage;
        if (header.Opcode == WebSocketOpcode.Continuation ? !open : open)
        {
            return WebSocketCloseCode.ProtocolError; // continuation with nothing open, or a new message inside one
        }
        // Checked on the header, before any payload is buffered: a 2 GB declaration costs nothing.
        if (header.PayloadLength > _maxMessageSize - _messageLength)
        {
            return WebSocketCloseCode.MessageTooBig;
        }
        _messageLength += header.PayloadLength;
        return 0;
    }

    private bool IsTextMessage(WebSocketOpcode opcode) =>
        opcode == WebSocketOpcode.Text || (opcode == WebSocketOpcode.Continuation && _messageOpcode == WebSocketOpcode.Text);

    private bool UnmaskAndCheck(in ReadOnlySequence<byte> fresh)
    {
        bool text = IsTextMessage(_header.Opcode);
        int offset = (int)(_processed & 3);
        foreach (ReadOnlyMemory<byte> segment in fresh)
        {
            // The pipe hands out read-only views of buffers it owns and that only this reader uses until it
            // advances; writing the unmasked bytes back saves a copy of every payload.
            Span<byte> span = MemoryMarshal.AsMemory(segment).Span;
            offset = WebSocketMask.Apply(span, _header.MaskKey, offset);
            if (text && !_utf8.Append(span))
            {
                return false;
            }
        }
        return true;
    }
}
