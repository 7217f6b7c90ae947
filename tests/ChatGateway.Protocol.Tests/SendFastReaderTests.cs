using System.Buffers;
using MessagePack;

namespace ChatGateway.Protocol.Tests;

/// <summary>
/// The Send fast path (<see cref="SendFastReader"/>) decides exactly as the general reader does: for every encoding
/// of every field, for truncated and corrupted frames, and for frames split over two buffers. Where it declines, the
/// general reader answers, so the public reader's result (or error code) is the general reader's in every case.
/// </summary>
public sealed class SendFastReaderTests
{
    [Fact]
    public void The_clients_own_Send_frames_take_the_fast_path()
    {
        var buffer = new ArrayBufferWriter<byte>();
        ClientRequestWriter.Send(buffer, 7, 0, 42, Guid.NewGuid().ToByteArray(), new byte[100]);
        Assert.True(SendFastReader.TryRead(new ReadOnlySequence<byte>(buffer.WrittenMemory), out ClientRequest fast));
        Assert.Equal(42, fast.ToUser);
        Assert.Equal(100, fast.Body.Length);

        buffer.Clear();
        ClientRequestWriter.Send(buffer, uint.MaxValue, 0x4000_1234_5678_9abcL, 0, [], new byte[70_000]);
        Assert.True(SendFastReader.TryRead(new ReadOnlySequence<byte>(buffer.WrittenMemory), out fast));
        Assert.Equal(uint.MaxValue, fast.RequestId);
        Assert.Equal(0x4000_1234_5678_9abcL, fast.Conversation);
        Assert.True(fast.ClientMessageId.IsEmpty);
        Assert.Equal(70_000, fast.Body.Length);
    }

    [Fact]
    public void Every_integer_and_binary_encoding_decodes_as_the_general_reader_does()
    {
        long[] integers = [0, 1, 127, 128, 255, 256, 65_535, 65_536, uint.MaxValue, (long)uint.MaxValue + 1, long.MaxValue, -1, -32, -33, -128, -129, -32_768, -32_769, int.MinValue, long.MinValue];
        int fastHits = 0;
        foreach (long value in integers)
        {
            foreach (IntegerForm form in Enum.GetValues<IntegerForm>())
            {
                foreach (BinaryForm idForm in Enum.GetValues<BinaryForm>())
                {
                    foreach (BinaryForm bodyForm in Enum.GetValues<BinaryForm>())
                    {
                        foreach (int idLength in (int[])[0, 16, 17])
                        {
                            byte[]? frame = Encode(value, form, idForm, idLength, bodyForm, bodyLength: 100);
                            if (frame is null)
                            {
                                continue; // the value does not fit that form
                            }
                            fastHits += AssertSameDecision(frame) ? 1 : 0;
                        }
                    }
                }
            }
        }
        Assert.True(fastHits > 1_000, $"only {fastHits} frames took the fast path");

        // uint 64 beyond a long: the general reader reports the overflow, whichever field holds it.
        for (int field = 0; field < 3; field++)
        {
            var buffer = new ArrayBufferWriter<byte>();
            var w = new MessagePackWriter(buffer);
            w.WriteArrayHeader(6);
            w.Write((byte)MessageType.Send);
            for (int i = 0; i < 3; i++)
            {
                w.WriteUInt64(i == field ? (ulong)long.MaxValue + 1 : 5);
            }
            w.WriteNil();
            w.Write(new byte[10]);
            w.Flush();
            Assert.False(AssertSameDecision(buffer.WrittenSpan.ToArray()));
        }
    }

    [Fact]
    public void Truncated_extended_and_corrupted_frames_get_the_general_readers_answer()
    {
        byte[] frame = Encode(123_456, IntegerForm.Compact, BinaryForm.Bin8, 16, BinaryForm.Bin16, bodyLength: 300)!;
        for (int length = 0; length < frame.Length; length++)
        {
            Assert.False(AssertSameDecision(frame[..length]), $"a frame cut at {length} bytes took the fast path");
        }
        Assert.False(AssertSameDecision([.. frame, 0x00]), "a trailing byte took the fast path");

        var random = new Random(20);
        for (int i = 0; i < 20_000; i++)
        {
            byte[] corrupted = (byte[])frame.Clone();
            int flips = random.Next(1, 4);
            for (int f = 0; f < flips; f++)
            {
                corrupted[random.Next(Math.Min(corrupted.Length, 48))] = (byte)random.Next(256); // the header and fields, not the body's bytes
            }
            AssertSameDecision(corrupted);
        }
    }

    [Fact]
    public void A_frame_in_two_buffers_is_left_to_the_general_reader_and_decodes_the_same()
    {
        byte[] frame = Encode(9, IntegerForm.Compact, BinaryForm.Bin8, 16, BinaryForm.Bin8, bodyLength: 100)!;
        ReadOnlySequence<byte> split = TwoSegments(frame, 40);
        Assert.False(SendFastReader.TryRead(split, out _));
        List<long>? members = null;
        ClientRequest request = ClientRequestReader.Read(split, ref members, 1000, out _);
        Assert.Equal(9u, request.RequestId);
        Assert.Equal(100, request.Body.Length);
    }

    /// <summary>Asserts the public reader decides as the general reader; returns whether the fast path took it.</summary>
    private static bool AssertSameDecision(byte[] frame)
    {
        var sequence = new ReadOnlySequence<byte>(frame);
        (ClientRequest? expected, string? expectedError) = Decide(() => { List<long>? m = null; return ClientRequestReader.ReadAny(sequence, ref m, 1000, out _); });
        (ClientRequest? actual, string? actualError) = Decide(() => { List<long>? m = null; return ClientRequestReader.Read(sequence, ref m, 1000, out _); });
        Assert.Equal(expectedError, actualError);
        if (expected is { } e && actual is { } a)
        {
            Assert.Equal(e.Type, a.Type);
            Assert.Equal(e.RequestId, a.RequestId);
            Assert.Equal(e.Conversation, a.Conversation);
            Assert.Equal(e.ToUser, a.ToUser);
            Assert.Equal(e.ClientMessageId.ToArray(), a.ClientMessageId.ToArray());
            Assert.Equal(e.Body.ToArray(), a.Body.ToArray());
        }
        bool fast = SendFastReader.TryRead(sequence, out _);
        if (fast)
        {
            Assert.Null(expectedError); // the fast path never accepts what the general reader refuses
        }
        return fast;
    }

    private static (ClientRequest?, string?) Decide(Func<ClientRequest> read)
    {
        try
        {
            return (read(), null);
        }
        catch (ProtocolException ex)
        {
            return (null, ex.Code);
        }
    }

    private enum IntegerForm { Compact, Int8, Int16, Int32, Int64, UInt8, UInt16, UInt32, UInt64 }

    private enum BinaryForm { Nil, Bin8, Bin16, Bin32 }

    /// <summary>A Send whose rid, conversation and to_user are written in <paramref name="form"/>; null when the value does not fit it.</summary>
    private static byte[]? Encode(long value, IntegerForm form, BinaryForm idForm, int idLength, BinaryForm bodyForm, int bodyLength)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var w = new MessagePackWriter(buffer);
        w.WriteArrayHeader(6);
        w.Write((byte)MessageType.Send);
        long rid = Math.Clamp(value, 0, uint.MaxValue);
        if (!TryWriteInteger(ref w, rid, form) || !TryWriteInteger(ref w, value, form) || !TryWriteInteger(ref w, value == 0 ? 1 : 0, form))
        {
            return null;
        }
        if (!TryWriteBinary(ref w, idForm, idLength) || !TryWriteBinary(ref w, bodyForm, bodyLength))
        {
            return null;
        }
        w.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    private static bool TryWriteInteger(ref MessagePackWriter w, long value, IntegerForm form)
    {
        switch (form)
        {
            case IntegerForm.Compact: w.Write(value); return true;
            case IntegerForm.Int8 when value is >= sbyte.MinValue and <= sbyte.MaxValue: w.WriteInt8((sbyte)value); return true;
            case IntegerForm.Int16 when value is >= short.MinValue and <= short.MaxValue: w.WriteInt16((short)value); return true;
            case IntegerForm.Int32 when value is >= int.MinValue and <= int.MaxValue: w.WriteInt32((int)value); return true;
            case IntegerForm.Int64: w.WriteInt64(value); return true;
            case IntegerForm.UInt8 when value is >= 0 and <= byte.MaxValue: w.WriteUInt8((byte)value); return true;
            case IntegerForm.UInt16 when value is >= 0 and <= ushort.MaxValue: w.WriteUInt16((ushort)value); return true;
            case IntegerForm.UInt32 when value is >= 0 and <= uint.MaxValue: w.WriteUInt32((uint)value); return true;
            case IntegerForm.UInt64 when value >= 0: w.WriteUInt64((ulong)value); return true;
            default: return false;
        }
    }

    private static bool TryWriteBinary(ref MessagePackWriter w, BinaryForm form, int length)
    {
        byte[] header = new byte[5];
        switch (form)
        {
            case BinaryForm.Nil:
                if (length != 0)
                {
                    return false;
                }
                w.WriteNil();
                return true;
            case BinaryForm.Bin8 when length <= byte.MaxValue:
                header[0] = 0xc4;
                header[1] = (byte)length;
                w.WriteRaw(header.AsSpan(0, 2));
                break;
            case BinaryForm.Bin16:
                header[0] = 0xc5;
                System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(1), (ushort)length);
                w.WriteRaw(header.AsSpan(0, 3));
                break;
            case BinaryForm.Bin32:
                header[0] = 0xc6;
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(1), (uint)length);
                w.WriteRaw(header.AsSpan(0, 5));
                break;
            default:
                return false;
        }
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)(i * 7 + length);
        }
        w.WriteRaw(bytes);
        return true;
    }

    private static ReadOnlySequence<byte> TwoSegments(byte[] bytes, int at)
    {
        var first = new Segment(bytes.AsMemory(0, at), 0);
        Segment last = first.Append(bytes.AsMemory(at));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
