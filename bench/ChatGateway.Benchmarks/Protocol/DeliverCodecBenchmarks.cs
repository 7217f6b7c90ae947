using System.Buffers;
using BenchmarkDotNet.Attributes;
using ChatGateway.Protocol;
using MessagePack;

namespace ChatGateway.Benchmarks.Protocol;

/// <summary>
/// Encoding and decoding a Deliver with a 100-byte body, as the server writes it for every recipient and
/// a client reads it. Encode writes into a reused buffer; decode reads the fields as slices (the body is
/// not copied), so both should allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class DeliverCodecBenchmarks
{
    private readonly byte[] _body = new byte[100];
    private readonly byte[] _clientId = Guid.NewGuid().ToByteArray(bigEndian: true);
    private readonly ArrayBufferWriter<byte> _output = new(512);
    private ReadOnlySequence<byte> _encoded;

    [GlobalSetup]
    public void Setup()
    {
        Random.Shared.NextBytes(_body);
        Encode();
        _encoded = new ReadOnlySequence<byte>(_output.WrittenMemory.ToArray());
    }

    /// <summary>The Deliver written straight into a reused buffer, as the server writes it into the frame.</summary>
    [Benchmark]
    public int Encode()
    {
        _output.ResetWrittenCount();
        int maxBytes = ServerMessageWriter.MaxDeliverBytes(_clientId.Length, _body.Length);
        int length = ServerMessageWriter.Deliver(_output.GetSpan(maxBytes), 0x4000_1234_5678_9abcL, 1_234_567, 42, 1_796_000_000_000, _clientId, _body);
        _output.Advance(length);
        return length;
    }

    /// <summary>The same Deliver through a <see cref="MessagePackWriter"/>, as the server wrote it until session 21.</summary>
    [Benchmark]
    public int EncodeWithWriter()
    {
        _output.ResetWrittenCount();
        var w = new MessagePackWriter(_output);
        w.WriteArrayHeader(7);
        w.Write((byte)MessageType.Deliver);
        w.Write(0x4000_1234_5678_9abcL);
        w.WriteInt64(1_234_567);
        w.Write(42L);
        w.WriteInt64(1_796_000_000_000);
        w.WriteBinHeader(_clientId.Length);
        w.WriteRaw(_clientId);
        w.WriteBinHeader(_body.Length);
        w.WriteRaw(_body);
        w.Flush();
        return _output.WrittenCount;
    }

    [Benchmark]
    public long Decode()
    {
        var r = new MessagePackReader(_encoded);
        int fields = MessagePackFields.ReadEnvelope(ref r, out MessageType _);
        ServerMessageReader.ReadDeliver(ref r, fields, out DeliverFields deliver);
        return deliver.Seq + deliver.Body.Length;
    }

    /// <summary>Decoding a client's Send the way the server does for every inbound message.</summary>
    [Benchmark]
    public long DecodeSend()
    {
        ClientRequest request = ClientRequestReader.Read(_send, ref _members, 1000, out _);
        return request.Conversation + request.Body.Length;
    }

    /// <summary>The Ack the server sends for every message it accepts, written straight into a span (as the server does).</summary>
    [Benchmark]
    public int EncodeAck()
    {
        Span<byte> payload = stackalloc byte[ServerMessageWriter.MaxAckBytes];
        return ServerMessageWriter.Ack(payload, 7, 0x4000_1234_5678_9abcL, 1_234_567, 1_796_000_000_000, duplicate: false);
    }

    /// <summary>The same Ack through a <see cref="MessagePackWriter"/> over a reused buffer, as the server wrote it until session 20.</summary>
    [Benchmark]
    public int EncodeAckWithWriter()
    {
        _output.ResetWrittenCount();
        var w = new MessagePackWriter(_output);
        w.WriteArrayHeader(6);
        w.Write((byte)MessageType.Ack);
        w.Write(7u);
        w.Write(0x4000_1234_5678_9abcL);
        w.Write(1_234_567L);
        w.Write(1_796_000_000_000L);
        w.Write(false);
        w.Flush();
        return _output.WrittenCount;
    }

    private List<long>? _members;
    private readonly ReadOnlySequence<byte> _send = EncodeSend();

    private static ReadOnlySequence<byte> EncodeSend()
    {
        var buffer = new ArrayBufferWriter<byte>();
        ClientRequestWriter.Send(buffer, 7, 0x4000_1234_5678_9abcL, 0, Guid.NewGuid().ToByteArray(), new byte[100]);
        return new ReadOnlySequence<byte>(buffer.WrittenMemory.ToArray());
    }
}
