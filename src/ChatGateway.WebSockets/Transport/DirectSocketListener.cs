using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace ChatGateway.WebSockets.Transport;

/// <summary>
/// A listening TCP socket handing Kestrel one <see cref="DirectSocketConnection"/> per accepted client.
/// <para>
/// A thread of its own accepts, with blocking calls, into a bounded queue that Kestrel's accept loop drains. On
/// the runtime's <c>Socket.AcceptAsync</c> the accept loop shared the thread pool with every connection's work:
/// when it ran soon after each arrival (few pool threads) it took connections one at a time, each ending in an
/// accept that found none and a wait in the runtime's epoll thread (measured in a mass reconnect: 30,089 accept
/// calls and 34,318 epoll waits for 20,000 connections). A blocking accept is one call per connection.
/// </para>
/// </summary>
internal sealed class DirectSocketListener : IConnectionListener
{
    /// <summary>Pending connections the kernel queues before accept (Kestrel's socket transport uses the same).</summary>
    public const int Backlog = 512;

    // After an accept error other than a reset (EMFILE when the process is out of file descriptors, ENOBUFS),
    // the next attempt waits this long: retrying at once would spin a core until a descriptor is free.
    private static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Accepted connections Kestrel has not taken yet. When full, the accept thread waits, and further clients wait
    /// in the kernel's backlog, as they would if nothing accepted them.
    /// </summary>
    private const int AcceptedQueue = 256;

    private readonly Socket _socket;
    private readonly int _maxReadBufferBytes;
    private readonly ILogger _logger;
    private readonly Channel<DirectSocketConnection> _accepted = Channel.CreateBounded<DirectSocketConnection>(new BoundedChannelOptions(AcceptedQueue)
    {
        SingleReader = true,
        SingleWriter = true,
        FullMode = BoundedChannelFullMode.Wait,
    });
    private readonly Thread _acceptor;
    private volatile bool _stopped;

    private DirectSocketListener(Socket socket, int maxReadBufferBytes, ILogger logger)
    {
        _socket = socket;
        _maxReadBufferBytes = maxReadBufferBytes;
        _logger = logger;
        EndPoint = socket.LocalEndPoint!;
        _acceptor = new Thread(AcceptLoop) { IsBackground = true, Name = "accept " + EndPoint };
        _acceptor.Start();
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
        try
        {
            while (await _accepted.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (_accepted.Reader.TryRead(out DirectSocketConnection? connection))
                {
                    return connection;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        return null; // unbound: Kestrel stops accepting
    }

    private void AcceptLoop()
    {
        try
        {
            while (true)
            {
                DirectSocketConnection? client;
                try
                {
                    client = Accept();
                }
                catch (Exception) when (_stopped)
                {
                    return; // unbound: the listening socket was closed under the call (SocketError.Interrupted)
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
                catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
                {
                    continue; // reset while still in the backlog
                }
                catch (SocketException ex)
                {
                    _logger.LogWarning("Accepting a connection failed ({Error}: {Message}); retrying in {Delay} ms",
                        ex.SocketErrorCode, ex.Message, AcceptRetryDelay.TotalMilliseconds);
                    Thread.Sleep(AcceptRetryDelay);
                    continue;
                }
                if (client is null)
                {
                    continue; // gone already (reset right after the handshake): nothing to hand out
                }
                while (!_accepted.Writer.TryWrite(client))
                {
                    // Kestrel takes connections more slowly than they come: wait for room (a dedicated thread may block).
                    if (_stopped || !_accepted.Writer.WaitToWriteAsync().AsTask().GetAwaiter().GetResult())
                    {
                        client.DisposeAsync().AsTask().GetAwaiter().GetResult(); // completes synchronously
                        return;
                    }
                }
            }
        }
        finally
        {
            _accepted.Writer.TryComplete();
        }
    }

    /// <summary>
    /// Waits for the next client: a connection on its bare descriptor where <see cref="NonBlockingSocket"/> allows
    /// (no <see cref="Socket"/> object per connection), through <see cref="Socket.Accept"/> elsewhere. Null when the
    /// client was gone before it could be set up. Throws <see cref="SocketException"/> as <see cref="Socket.Accept"/> does.
    /// </summary>
    private DirectSocketConnection? Accept()
    {
        if (!NonBlockingSocket.Supported)
        {
            Socket socket = _socket.Accept();
            try
            {
                socket.NoDelay = true; // frames are flushed whole; Nagle would hold a small ack back for the previous one's ACK
            }
            catch (SocketException)
            {
                socket.Dispose();
                return null;
            }
            return new DirectSocketConnection(socket, _maxReadBufferBytes, ReadinessPoller.Shared);
        }
        SafeSocketHandle handle = NonBlockingSocket.Accept(_socket.SafeHandle, out SocketError error)
            ?? throw new SocketException((int)error);
        if (NonBlockingSocket.SetNoDelay(handle) != SocketError.Success)
        {
            handle.Dispose();
            return null;
        }
        return new DirectSocketConnection(handle, _maxReadBufferBytes, ReadinessPoller.Shared);
    }

    private void Stop()
    {
        _stopped = true;
        _socket.Dispose();
        _accepted.Writer.TryComplete();
        while (_accepted.Reader.TryRead(out DirectSocketConnection? client))
        {
            client.DisposeAsync().AsTask().GetAwaiter().GetResult(); // accepted, never handed to Kestrel; completes synchronously
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        Stop();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        Stop();
        return ValueTask.CompletedTask;
    }
}
