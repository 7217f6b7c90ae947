namespace ChatGateway.Server.Messaging;

/// <summary>
/// Where a sequencer sends the answer to a request: the session that made it (or, in benchmarks, a sink
/// that only counts). Called on the shard store's writer thread (see <see cref="Sequencer"/>), so it must not block.
/// </summary>
public interface IRequester
{
    void SendAck(uint rid, long conversation, long seq, long timestamp, bool duplicate);

    void SendOk(uint rid, long value);

    void SendError(uint rid, string code, string message);
}
