using System.Buffers;

namespace ChatGateway.WebSockets.Connections;

/// <summary>
/// Writes any number of already-framed bytes into a connection's output in one go, so they leave in
/// one flush (one syscall) instead of one each. A struct implementation is called without boxing.
/// </summary>
public interface IFrameBatch
{
    void WriteTo(IBufferWriter<byte> output);
}
