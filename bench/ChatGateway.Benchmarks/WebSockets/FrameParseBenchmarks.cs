using System.Buffers;
using BenchmarkDotNet.Attributes;
using ChatGateway.WebSockets.Framing;

namespace ChatGateway.Benchmarks.WebSockets;

/// <summary>
/// Parse + validate + unmask one masked binary frame, as the read loop does for each frame.
/// Multi-segment input splits the frame across Kestrel-like segments (header apart from payload for
/// 16 B; 4 KiB blocks otherwise). Unmasking is in place, so each iteration toggles the payload between
/// masked and clear; the work is the same either way.
/// </summary>
[MemoryDiagnoser]
public class FrameParseBenchmarks
{
    private ReadOnlySequence<byte> _input;
    private FrameReader _reader;

    [Params(16, 1024, 65536)]
    public int PayloadBytes { get; set; }

    [Params(false, true)]
    public bool MultiSegment { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        byte[] frame = MaskedFrames.Binary(PayloadBytes);
        _input = !MultiSegment
            ? new ReadOnlySequence<byte>(frame)
            : PayloadBytes < 4096 ? SegmentedBuffer.Split(frame, frame.Length / 2) : SegmentedBuffer.Chunked(frame, 4096);
        _reader = new FrameReader(1 << 20);
    }

    [Benchmark]
    public long Parse()
    {
        ReadOnlySequence<byte> buffer = _input;
        if (_reader.TryRead(ref buffer, out Frame frame, out _) != OperationStatus.Done)
        {
            throw new InvalidOperationException("frame did not parse");
        }
        return frame.Payload.Length;
    }
}
