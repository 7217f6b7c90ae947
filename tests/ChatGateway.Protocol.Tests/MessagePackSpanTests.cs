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

    /// <summary>
    /// Every integer boundary for the conversation and the sender, client ids of 0 and 16 bytes, bodies across the bin 8,
    /// bin 16 and bin 32 headers (from one span and from a sequence of several segments): byte for byte what the writer
    /// writes (bin headers as <see cref="MessagePackWriter.WriteBinHeader"/>, seq and timestamp as fixed int64s), within
    /// the advertised bound, read back, and patched in place.
    /// </summary>
    [Fact]
    public void A_Deliver_is_what_the_writer_would_write_and_reads_back_patched()
    {
        int[] bodyLengths = [0, 1, 100, 255, 256, 65_535, 65_536, 70_000];
        byte[] id = Guid.NewGuid().ToByteArray(bigEndian: true);
        var random = new Random(66);
        int cases = 0;
        foreach (int bodyLength in bodyLengths)
        {
            byte[] body = new byte[bodyLength];
            random.NextBytes(body);
            foreach (long value in Boundaries)
            {
                byte[] clientId = cases++ % 2 == 0 ? id : [];
                long conversation = value;
                long sender = -value;
                byte[] expected = WithWriter((ref MessagePackWriter w) =>
                {
                    w.WriteArrayHeader(7);
                    w.Write((byte)MessageType.Deliver);
                    w.Write(conversation);
                    w.WriteInt64(0);
                    w.Write(sender);
                    w.WriteInt64(0);
                    w.WriteBinHeader(clientId.Length);
                    w.WriteRaw(clientId);
                    w.WriteBinHeader(body.Length);
                    w.WriteRaw(body);
                });
                int max = ServerMessageWriter.MaxDeliverBytes(clientId.Length, body.Length);
                byte[] span = new byte[max];
                int length = ServerMessageWriter.Deliver(span, conversation, 0, sender, 0, clientId, body);
                Assert.Equal(expected, span[..length]);

                byte[] fromSequence = new byte[max];
                Assert.Equal(length, ServerMessageWriter.Deliver(fromSequence, conversation, 0, sender, 0, clientId, InSegments(body)));
                Assert.Equal(expected, fromSequence[..length]);

                ServerMessageWriter.PatchDeliver(span.AsSpan(0, length), 1_234_567, 1_796_000_000_000);
                var deliver = Assert.IsType<DeliverMessage>(ServerMessageReader.Read(new ReadOnlySequence<byte>(span, 0, length)));
                Assert.Equal((conversation, 1_234_567L, sender, 1_796_000_000_000L, clientId.Length == 0 ? Guid.Empty : new Guid(id, bigEndian: true)),
                    (deliver.Message.Conversation, deliver.Message.Seq, deliver.Message.Sender, deliver.Message.Timestamp, deliver.Message.ClientMessageId));
                Assert.Equal(body, deliver.Message.Body.ToArray());
            }
        }
        // The longest form fits the bound it advertises.
        byte[] longest = new byte[ServerMessageWriter.MaxDeliverBytes(16, 70_000)];
        Assert.Equal(longest.Length, ServerMessageWriter.Deliver(longest, long.MinValue, 0, long.MinValue, 0, new byte[16], new byte[70_000]) + 3); // bin 8 for the id: 3 bytes under the bound
    }

    /// <summary>The body in segments of at most 1,000 bytes, as a pipe may hold a large frame.</summary>
    private static ReadOnlySequence<byte> InSegments(byte[] body)
    {
        if (body.Length <= 1_000)
        {
            return new ReadOnlySequence<byte>(body);
        }
        var first = new Segment(body.AsMemory(0, 1_000), 0);
        Segment last = first;
        for (int at = 1_000; at < body.Length; at += 1_000)
        {
            last = last.Append(body.AsMemory(at, Math.Min(1_000, body.Length - at)));
        }
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
