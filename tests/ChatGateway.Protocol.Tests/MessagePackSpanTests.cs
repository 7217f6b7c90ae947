using System.Buffers;
using MessagePack;

namespace ChatGateway.Protocol.Tests;

/// <summary>Values written straight into a span are byte for byte what <see cref="MessagePackWriter"/> writes.</summary>
public sealed class MessagePackSpanTests
{
    private static readonly long[] Boundaries =
    [
        0, 1, 127, 128, 255, 256, 65_535, 65_536, uint.MaxValue, (long)uint.MaxValue + 1, long.MaxValue,
        -1, -32, -33, -128, -129, -32_768, -32_769, int.MinValue, (long)int.MinValue - 1, long.MinValue,
    ];

    [Fact]
    public void Integers_take_the_writers_shortest_form_at_every_boundary()
    {
        Span<byte> span = stackalloc byte[MessagePackSpan.MaxIntegerBytes];
        foreach (long value in Boundaries)
        {
            int length = MessagePackSpan.WriteInteger(span, value);
            Assert.Equal(WithWriter((ref MessagePackWriter w) => w.Write(value)), span[..length].ToArray());
        }
    }

    [Fact]
    public void An_Ack_is_what_the_writer_would_write_and_reads_back()
    {
        var random = new Random(65);
        byte[] span = new byte[ServerMessageWriter.MaxAckBytes];
        for (int i = 0; i < 2_000; i++)
        {
            uint rid = i < Boundaries.Length ? (uint)Math.Clamp(Boundaries[i], 0, uint.MaxValue) : (uint)random.NextInt64(0, (long)uint.MaxValue + 1);
            long conversation = i < Boundaries.Length ? Boundaries[i] : random.NextInt64();
            long seq = random.NextInt64(1, i % 2 == 0 ? 300 : long.MaxValue);
            long timestamp = 1_796_000_000_000 + i;
            bool duplicate = i % 3 == 0;
            int length = ServerMessageWriter.Ack(span, rid, conversation, seq, timestamp, duplicate);
            byte[] expected = WithWriter((ref MessagePackWriter w) =>
            {
                w.WriteArrayHeader(6);
                w.Write((byte)MessageType.Ack);
                w.Write(rid);
                w.Write(conversation);
                w.Write(seq);
                w.Write(timestamp);
                w.Write(duplicate);
            });
            Assert.Equal(expected, span[..length]);
            Assert.Equal(new AckMessage(rid, conversation, seq, timestamp, duplicate),
                ServerMessageReader.Read(new ReadOnlySequence<byte>(span, 0, length)));
        }
        // The longest form fits the bound it advertises.
        Assert.Equal(ServerMessageWriter.MaxAckBytes, ServerMessageWriter.Ack(span, uint.MaxValue, long.MinValue, long.MaxValue, long.MinValue, true));
    }

    private delegate void Write(ref MessagePackWriter writer);

    private static byte[] WithWriter(Write write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var w = new MessagePackWriter(buffer);
        write(ref w);
        w.Flush();
        return buffer.WrittenSpan.ToArray();
    }
}
