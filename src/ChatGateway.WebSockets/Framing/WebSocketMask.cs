using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ChatGateway.WebSockets.Framing;

/// <summary>
/// XOR masking of frame payloads (RFC 6455 §5.3), vectorised. The mask is the 4 key bytes read
/// as a little-endian <see cref="uint"/>, so byte i of the payload is XORed with byte (i % 4) of it.
/// </summary>
public static class WebSocketMask
{
    /// <summary>
    /// Masks or unmasks <paramref name="data"/> in place. <paramref name="offset"/> is the position of
    /// data[0] within the frame payload (only its low two bits matter), so a payload that arrives in
    /// pieces can be unmasked piece by piece. Returns the offset for the byte after the last one.
    /// </summary>
    public static int Apply(Span<byte> data, uint mask, int offset)
    {
        // Rotate so that data[0] meets key byte (offset % 4); every block below is a multiple of 4 long,
        // so the rotated key stays aligned through all of them.
        uint key = BitOperations.RotateRight(mask, (offset & 3) * 8);
        ref byte start = ref MemoryMarshal.GetReference(data);
        nuint length = (nuint)data.Length;
        nuint i = 0;

        if (Vector256.IsHardwareAccelerated && length >= (nuint)Vector256<byte>.Count)
        {
            Vector256<byte> keys = Vector256.Create(key).AsByte();
            nuint last = length - (nuint)Vector256<byte>.Count;
            for (; i <= last; i += (nuint)Vector256<byte>.Count)
            {
                (Vector256.LoadUnsafe(ref start, i) ^ keys).StoreUnsafe(ref start, i);
            }
        }

        if (Vector128.IsHardwareAccelerated && length - i >= (nuint)Vector128<byte>.Count)
        {
            Vector128<byte> keys = Vector128.Create(key).AsByte();
            nuint last = length - (nuint)Vector128<byte>.Count;
            for (; i <= last; i += (nuint)Vector128<byte>.Count)
            {
                (Vector128.LoadUnsafe(ref start, i) ^ keys).StoreUnsafe(ref start, i);
            }
        }

        if (length - i >= 8)
        {
            ulong wide = key | ((ulong)key << 32);
            for (; i + 8 <= length; i += 8)
            {
                ref byte at = ref Unsafe.Add(ref start, i);
                Unsafe.WriteUnaligned(ref at, Unsafe.ReadUnaligned<ulong>(ref at) ^ wide);
            }
        }

        for (int k = 0; i < length; i++, k++)
        {
            Unsafe.Add(ref start, i) ^= (byte)(key >> (8 * (k & 3)));
        }

        return (offset + data.Length) & 3;
    }
}
