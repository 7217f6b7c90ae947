using ChatGateway.WebSockets.Framing;

namespace ChatGateway.WebSockets.Tests.Units;

public sealed class WebSocketMaskTests
{
    private const uint Key = 0xA1B2C3D4;

    private static byte[] Reference(byte[] data, int offset)
    {
        byte[] result = (byte[])data.Clone();
        for (int i = 0; i < result.Length; i++)
        {
            result[i] ^= (byte)(Key >> (8 * ((offset + i) & 3)));
        }
        return result;
    }

    [Fact]
    public void Matches_the_byte_at_a_time_definition_for_every_length_and_offset()
    {
        var random = new Random(1);
        for (int length = 0; length <= 200; length++)
        {
            for (int offset = 0; offset < 4; offset++)
            {
                byte[] data = new byte[length];
                random.NextBytes(data);
                byte[] expected = Reference(data, offset);

                int next = WebSocketMask.Apply(data, Key, offset);

                Assert.Equal(expected, data);
                Assert.Equal((offset + length) & 3, next);
            }
        }
    }

    [Fact]
    public void A_payload_unmasked_in_uneven_pieces_equals_one_pass()
    {
        byte[] data = new byte[10_000];
        new Random(2).NextBytes(data);
        byte[] expected = Reference(data, 0);

        int offset = 0;
        int position = 0;
        foreach (int piece in new[] { 1, 3, 997, 4096, 33, 7 })
        {
            offset = WebSocketMask.Apply(data.AsSpan(position, piece), Key, offset);
            position += piece;
        }
        WebSocketMask.Apply(data.AsSpan(position), Key, offset);

        Assert.Equal(expected, data);
    }
}
