using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace ChatGateway.WebSockets.Transport;

/// <summary>
/// A listening TCP socket handing Kestrel one <see cref="DirectSocketConnection"/> per accepted client.
/// </summary>
internal sealed class DirectSocketListener : IConnectionListener
{
    /// <summary>Pending connections the kernel queues before accept (Kestrel's socket transport uses the same).</summary>
    public const int Backlog = 512;

    // After an accept error other than a reset (EMFILE when the process is out of file descriptors, ENOBUFS),
    // the next attempt waits this long: retrying at once would spin a core until a descriptor is free.
    private static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromMilliseconds(50);

    private readonly Socket _socket;
    private readonly int _maxReadBufferBytes;
    private readonly ILogger _logger;

    private DirectSocketListener(Socket socket, int maxReadBufferBytes, ILogger logger)
    {
        _socket = socket;
        _maxReadBufferBytes = maxReadBufferBytes;
        _logger = logger;
        EndPoint = socket.LocalEndPoint!;
    }

    public EndPoint EndPoint { get; }

    /// <param name="maxReadBufferBytes">The most unconsumed input one connection holds.</param>
    public static DirectSocketListener Bind(IPEndPoint endPoint, int maxReadBufferBytes, ILogger logger)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true; // "::" takes IPv4 clients too, as with Kestrel's transport
            }
            socket.Bind(endPoint);
            socket.Listen(Backlog);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            throw new AddressInUseException(ex.Message, ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new DirectSocketListener(socket, maxReadBufferBytes, logger);
    }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ObjectDisposedException
                                       || ex is SocketException { SocketErrorCode: SocketError.OperationAborted }
                                       || ex is OperationCanceledException)
            {
                return null; // unbound: Kestrel stops accepting
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
                continue; // reset while still in the backlog
            }
            catch (SocketException ex)
            {
                _logger.LogWarning("Accepting a connection failed ({Error}: {Message}); retrying in {Delay} ms",
                    ex.SocketErrorCode, ex.Message, AcceptRetryDelay.TotalMilliseconds);
                await Task.Delay(AcceptRetryDelay, cancellationToken).ConfigureAwait(false);
                continue;
            }
            client.NoDelay = true; // frames are flushed whole; Nagle would hold a small ack back for the previous one's ACK
            return new DirectSocketConnection(client, _maxReadBufferBytes);
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
