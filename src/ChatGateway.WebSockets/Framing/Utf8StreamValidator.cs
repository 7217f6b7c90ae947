using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace ChatGateway.WebSockets.Framing;

/// <summary>
/// Validates UTF-8 that arrives in pieces (frames, or parts of a frame), failing on the first byte
/// that can no longer begin or continue a valid sequence. A code point split across pieces is
/// carried over (at most 3 bytes). Bulk validation uses the runtime's vectorised
/// <see cref="Utf8.IsValid(ReadOnlySpan{byte})"/>; only the last incomplete sequence is decoded by hand.
/// </summary>
public struct Utf8StreamValidator
{
    private uint _pending;      // up to 3 bytes of an incomplete sequence, first byte lowest
    private int _pendingCount;

    /// <summary>True when no partial code point is carried: the text so far may end here.</summary>
    public readonly bool IsComplete => _pendingCount == 0;

    public void Reset() => this = default;

    /// <summary>Feeds the next bytes. Returns false as soon as the stream cannot be valid UTF-8.</summary>
    public bool Append(ReadOnlySpan<byte> data)
    {
        if (_pendingCount > 0)
        {
            if (!CompletePending(ref data))
            {
                return false;
            }
            if (data.IsEmpty)
            {
                return true;
            }
        }

        int tailStart = IncompleteTailStart(data);
        if (!Utf8.IsValid(data[..tailStart]))
        {
            return false;
        }

        ReadOnlySpan<byte> tail = data[tailStart..];
        if (tail.IsEmpty)
        {
            return true;
        }
        // The tail is a lead byte plus fewer continuation bytes than it needs. It is worth carrying only
        // if it is a valid prefix (so F4 90.. or ED A0.. fail here, not one piece later).
        if (Rune.DecodeFromUtf8(tail, out _, out _) != OperationStatus.NeedMoreData)
        {
            return false;
        }
        for (int i = 0; i < tail.Length; i++)
        {
            _pending |= (uint)tail[i] << (8 * i);
        }
        _pendingCount = tail.Length;
        return true;
    }

    private bool CompletePending(ref ReadOnlySpan<byte> data)
    {
        Span<byte> sequence = stackalloc byte[4];
        for (int i = 0; i < _pendingCount; i++)
        {
            sequence[i] = (byte)(_pending >> (8 * i));
        }
        int needed = SequenceLength(sequence[0]);
        int take = Math.Min(needed - _pendingCount, data.Length);
        data[..take].CopyTo(sequence[_pendingCount..]);
        int have = _pendingCount + take;

        OperationStatus status = Rune.DecodeFromUtf8(sequence[..have], out _, out int consumed);
        if (status == OperationStatus.NeedMoreData)
        {
            for (int i = _pendingCount; i < have; i++)
            {
                _pending |= (uint)sequence[i] << (8 * i);
            }
            _pendingCount = have;
            data = default;
            return true;
        }
        if (status != OperationStatus.Done || consumed != needed)
        {
            return false;
        }
        _pending = 0;
        _pendingCount = 0;
        data = data[take..];
        return true;
    }

    /// <summary>
    /// Index of a trailing lead byte whose sequence is cut off by the end of <paramref name="data"/>,
    /// or data.Length when the data does not end inside a multi-byte sequence.
    /// </summary>
    private static int IncompleteTailStart(ReadOnlySpan<byte> data)
    {
        for (int back = 1; back <= 3 && back <= data.Length; back++)
        {
            byte b = data[^back];
            if ((b & 0xC0) != 0x80)
            {
                // Not a continuation byte: either ASCII (complete) or a lead byte.
                return b >= 0xC0 && SequenceLength(b) > back ? data.Length - back : data.Length;
            }
        }
        return data.Length;
    }

    /// <summary>Length announced by a lead byte; 1 for bytes that cannot lead (validation rejects them).</summary>
    private static int SequenceLength(byte lead) => lead switch
    {
        >= 0xC2 and <= 0xDF => 2,
        >= 0xE0 and <= 0xEF => 3,
        >= 0xF0 and <= 0xF4 => 4,
        _ => 1,
    };
}
