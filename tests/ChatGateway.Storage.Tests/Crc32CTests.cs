using ChatGateway.Storage.Journal;

namespace ChatGateway.Storage.Tests;

/// <summary>The journal's checksum is CRC-32C as published, for every length and alignment the records take.</summary>
public sealed class Crc32CTests
{
    [Fact]
    public void The_standard_check_value_is_computed()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8)); // RFC 3720, B.4: CRC-32C of "123456789"
        Assert.Equal(0u, Crc32C.Compute([]));
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32])); // RFC 3720, B.4: 32 bytes of zeros
    }

    [Fact]
    public void Every_length_and_offset_matches_a_bitwise_reference()
    {
        var random = new Random(32);
        byte[] data = new byte[600];
        random.NextBytes(data);
        for (int offset = 0; offset < 8; offset++)
        {
            for (int length = 0; length <= data.Length - offset; length += length < 40 ? 1 : 37)
            {
                ReadOnlySpan<byte> slice = data.AsSpan(offset, length);
                Assert.Equal(Reference(slice), Crc32C.Compute(slice));
            }
        }
    }

    /// <summary>One bit at a time, reflected polynomial 0x82F63B78.</summary>
    private static uint Reference(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
            }
        }
        return ~crc;
    }
}
