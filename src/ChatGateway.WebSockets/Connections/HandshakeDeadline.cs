using System.IO.Pipelines;
using ChatGateway.WebSockets.Timeouts;

namespace ChatGateway.WebSockets.Connections;

/// <summary>Cancels the pending read of a connection whose upgrade request has not arrived in time.</summary>
internal sealed class HandshakeDeadline(PipeReader input, long deadline) : ISweepable
{
    private volatile bool _expired;

    public bool Expired => _expired;

    public void OnSweep(long now)
    {
        if (now >= deadline && !_expired)
        {
            _expired = true;
            input.CancelPendingRead();
        }
    }
}
