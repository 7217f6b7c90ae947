using System.Buffers;
using BenchmarkDotNet.Attributes;
using ChatGateway.WebSockets.Framing;

namespace ChatGateway.Benchmarks.WebSockets;

/// <summary>Encode one server frame (header + payload copy) into a reused buffer writer.</summary>
[MemoryDiagnoser]
public class FrameWriteBenchmarks
{
    private byte[] _payload = [];
    private ReadOnlySequence<byte> _segmentedPayload;
    private readonly ArrayBufferWriter<byte> _output = new(128 * 1024);

    [Params(16, 1024, 65536)]
    public int PayloadBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _payload = new byte[PayloadBytes];
        new Random(42).NextBytes(_payload);
        _segmentedPayload = PayloadBytes < 4096 ? SegmentedBuffer.Split(_payload, PayloadBytes / 2) : SegmentedBuffer.Chunked(_payload, 4096);
    }

    [Benchmark]
    public int WriteSpan()
    {
        _output.ResetWrittenCount();
        FrameWriter.WriteFrame(_output, WebSocketOpcode.Binary, fin: true, _payload);
        return _output.WrittenCount;
    }

    [Benchmark]
    public int WriteMultiSegment()
    {
        _output.ResetWrittenCount();
        FrameWriter.WriteFrame(_output, WebSocketOpcode.Binary, fin: true, _segmentedPayload);
        return _output.WrittenCount;
    }
}
