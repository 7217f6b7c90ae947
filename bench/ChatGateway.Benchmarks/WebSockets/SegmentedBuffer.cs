using System.Buffers;

namespace ChatGateway.Benchmarks.WebSockets;

/// <summary>Builds a multi-segment <see cref="ReadOnlySequence{T}"/> over one array, as a pipe hands out data.</summary>
internal sealed class SegmentedBuffer : ReadOnlySequenceSegment<byte>
{
    private SegmentedBuffer(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    /// <summary>Splits <paramref name="data"/> at the given lengths (the last segment takes the rest).</summary>
    public static ReadOnlySequence<byte> Split(byte[] data, params int[] lengths)
    {
        var first = new SegmentedBuffer(data.AsMemory(0, lengths[0]), 0);
        SegmentedBuffer last = first;
        int offset = lengths[0];
        for (int i = 1; i <= lengths.Length && offset < data.Length; i++)
        {
            int length = i < lengths.Length ? lengths[i] : data.Length - offset;
            var next = new SegmentedBuffer(data.AsMemory(offset, length), offset);
            last.Next = next;
            last = next;
            offset += length;
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Splits into segments of <paramref name="size"/> bytes, as Kestrel's 4 KiB pool blocks do.</summary>
    public static ReadOnlySequence<byte> Chunked(byte[] data, int size)
    {
        int count = (data.Length + size - 1) / size;
        int[] lengths = new int[count];
        for (int i = 0; i < count; i++)
        {
            lengths[i] = Math.Min(size, data.Length - i * size);
        }
        return Split(data, lengths);
    }
}
