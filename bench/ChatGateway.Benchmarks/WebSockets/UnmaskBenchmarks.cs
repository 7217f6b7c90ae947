using BenchmarkDotNet.Attributes;
using ChatGateway.WebSockets.Framing;

namespace ChatGateway.Benchmarks.WebSockets;

/// <summary>Vectorised unmasking against the byte-at-a-time loop of RFC 6455 §5.3 (the in-run baseline).</summary>
[MemoryDiagnoser]
public class UnmaskBenchmarks
{
    private byte[] _data = [];

    [Params(16, 1024, 65536)]
    public int PayloadBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[PayloadBytes];
        new Random(42).NextBytes(_data);
    }

    [Benchmark(Baseline = true)]
    public int ByteAtATime()
    {
        Span<byte> data = _data;
        uint mask = MaskedFrames.MaskKey;
        for (int i = 0; i < data.Length; i++)
        {
            data[i] ^= (byte)(mask >> (8 * (i & 3)));
        }
        return data.Length;
    }

    [Benchmark]
    public int Vectorised() => WebSocketMask.Apply(_data, MaskedFrames.MaskKey, 0);
}
