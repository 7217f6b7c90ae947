using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ChatGateway.Storage.Journal;

/// <summary>CRC-32C (Castagnoli) over a span, 8 bytes per step with the CPU's crc32 instruction where it has one.</summary>
internal static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        // Unaligned reads from a reference rather than a slice per step: each step's slice checked its bounds and
        // built a span: a 171-byte journal record took 20-32 ns against 31-39 (the whole was 1.8% of the server's CPU in pairs).
        uint crc = 0xFFFFFFFF;
        ref byte start = ref MemoryMarshal.GetReference(data);
        int i = 0;
        for (; i <= data.Length - 8; i += 8)
        {
            crc = BitOperations.Crc32C(crc, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i)));
        }
        if (i <= data.Length - 4)
        {
            crc = BitOperations.Crc32C(crc, Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i)));
            i += 4;
        }
        for (; i < data.Length; i++)
        {
            crc = BitOperations.Crc32C(crc, Unsafe.Add(ref start, i));
        }
        return ~crc;
    }
}
