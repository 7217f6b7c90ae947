using System.Buffers;
using ChatGateway.WebSockets.Framing;
using ChatGateway.WebSockets.Tests.Infrastructure;

namespace ChatGateway.WebSockets.Tests.Units;

/// <summary>The frame reader driven directly, with input split the way a pipe may hand it out.</summary>
public sealed class FrameReaderTests
{
    [Fact]
    public void A_frame_arriving_in_every_possible_prefix_is_read_once_complete_and_unmasked_once()
    {
        byte[] payload = new byte[300];
        new Random(5).NextBytes(payload);
        byte[] wire = RawClient.Frame(WebSocketOpcode.Binary, payload);
        var reader = new FrameReader(1 << 20);

        // Grow the visible input one byte at a time, as a slow TCP peer would, without consuming.
        for (int visible = 0; visible < wire.Length; visible++)
        {
            var partial = new ReadOnlySequence<byte>(wire, 0, visible);
            Assert.Equal(OperationStatus.NeedMoreData, reader.TryRead(ref partial, out _, out _));
            Assert.Equal(visible, partial.Length);
        }
        var whole = new ReadOnlySequence<byte>(wire);
        Assert.Equal(OperationStatus.Done, reader.TryRead(ref whole, out Frame frame, out _));

        Assert.Equal(payload, frame.Payload.ToArray());
        Assert.True(whole.IsEmpty);
    }

    [Fact]
    public void A_frame_spread_over_many_segments_is_read_in_place()
    {
        byte[] payload = new byte[5000];
        new Random(6).NextBytes(payload);
        byte[] wire = RawClient.Frame(WebSocketOpcode.Binary, payload)
            .Concat(RawClient.Frame(WebSocketOpcode.Text, "next"u8.ToArray())).ToArray();
        ReadOnlySequence<byte> input = Segments.Split(wire, 1, 3, 4, 100, 4096);
        var reader = new FrameReader(1 << 20);

        Assert.Equal(OperationStatus.Done, reader.TryRead(ref input, out Frame first, out _));
        Assert.Equal(payload, first.Payload.ToArray());
        Assert.Equal(OperationStatus.Done, reader.TryRead(ref input, out Frame second, out _));
        Assert.Equal("next"u8.ToArray(), second.Payload.ToArray());
        Assert.Equal(OperationStatus.NeedMoreData, reader.TryRead(ref input, out _, out _));
    }

    [Fact]
    public void A_control_frame_between_fragments_leaves_the_message_open()
    {
        byte[] wire = RawClient.Frame(WebSocketOpcode.Text, "a"u8.ToArray(), fin: false)
            .Concat(RawClient.Frame(WebSocketOpcode.Ping, []))
            .Concat(RawClient.Frame(WebSocketOpcode.Continuation, "b"u8.ToArray(), fin: true)).ToArray();
        var input = new ReadOnlySequence<byte>(wire);
        var reader = new FrameReader(1024);

        Assert.Equal(OperationStatus.Done, reader.TryRead(ref input, out _, out _));
        Assert.True(reader.InFragmentedMessage);
        Assert.Equal(OperationStatus.Done, reader.TryRead(ref input, out Frame ping, out _));
        Assert.Equal(WebSocketOpcode.Ping, ping.Opcode);
        Assert.True(reader.InFragmentedMessage);
        Assert.Equal(OperationStatus.Done, reader.TryRead(ref input, out Frame last, out _));
        Assert.True(last.Fin);
        Assert.False(reader.InFragmentedMessage);
    }

    private sealed class Segments : ReadOnlySequenceSegment<byte>
    {
        private Segments(ReadOnlyMemory<byte> memory, long index)
        {
            Memory = memory;
            RunningIndex = index;
        }

        public static ReadOnlySequence<byte> Split(byte[] data, params int[] lengths)
        {
            var first = new Segments(data.AsMemory(0, lengths[0]), 0);
            Segments last = first;
            int offset = lengths[0];
            for (int i = 1; offset < data.Length; i++)
            {
                int length = i < lengths.Length ? Math.Min(lengths[i], data.Length - offset) : data.Length - offset;
                var next = new Segments(data.AsMemory(offset, length), offset);
                last.Next = next;
                last = next;
                offset += length;
            }
            return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        }
    }
}
