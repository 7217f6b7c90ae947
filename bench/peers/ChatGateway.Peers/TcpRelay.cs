using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;

namespace ChatGateway.Peers;

/// <summary>
/// The physical-limit baseline: the relay over raw TCP on Kestrel's pipes (a connection handler, as the gateway
/// uses), no WebSocket, no storage. Frames are <c>[length: i32 LE][payload]</c> both ways; a connection's first
/// frame is its user id (8 bytes). Frames of one read are relayed together: consecutive frames to the same
/// recipient are written under one lock and flushed once, and the sender's acks leave in one flush.
/// </summary>
public sealed class TcpRelay : ConnectionHandler
{
    private const int MaxFrame = 1 << 20;
    private static readonly Connections<Peer> Users = new();

    private sealed class Peer(PipeWriter output)
    {
        public PipeWriter Output { get; } = output;
        public SemaphoreSlim WriteLock { get; } = new(1, 1);
    }

    public static Func<int> Configure(WebApplicationBuilder builder) => () => Users.Count;

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        PipeReader input = connection.Transport.Input;
        var self = new Peer(connection.Transport.Output);
        long user = 0;
        try
        {
            while (true)
            {
                ReadResult read = await input.ReadAsync();
                ReadOnlySequence<byte> buffer = read.Buffer;
                int acks = 0;
                long[] ids = ArrayPool<long>.Shared.Rent(256);
                Peer? locked = null;
                try
                {
                    while (TryReadFrame(ref buffer, out ReadOnlySequence<byte> frame))
                    {
                        if (user == 0)
                        {
                            user = ReadUser(frame);
                            Users.Add(user, self);
                            continue;
                        }
                        byte[] scratch = ArrayPool<byte>.Shared.Rent((int)frame.Length);
                        frame.CopyTo(scratch);
                        int frameLength = (int)frame.Length;
                        if (!RelayWire.TryReadSend(scratch.AsSpan(0, frameLength), out long to, out long id, out _) || to == 0)
                        {
                            ArrayPool<byte>.Shared.Return(scratch);
                            continue;
                        }
                        Peer? recipient = Users.Find(to);
                        if (recipient != locked)
                        {
                            if (locked is not null)
                            {
                                await FlushAndReleaseAsync(locked);
                            }
                            locked = recipient;
                            if (locked is not null)
                            {
                                await locked.WriteLock.WaitAsync();
                            }
                        }
                        if (locked is not null)
                        {
                            int bodyLength = frameLength - RelayWire.SendHeader;
                            Span<byte> deliver = locked.Output.GetSpan(4 + RelayWire.DeliverHeader + bodyLength);
                            BinaryPrimitives.WriteInt32LittleEndian(deliver, RelayWire.DeliverHeader + bodyLength);
                            RelayWire.WriteDeliver(deliver[4..], user, scratch.AsSpan(RelayWire.SendHeader, bodyLength));
                            locked.Output.Advance(4 + RelayWire.DeliverHeader + bodyLength);
                        }
                        ArrayPool<byte>.Shared.Return(scratch);
                        if (acks == ids.Length)
                        {
                            long[] larger = ArrayPool<long>.Shared.Rent(ids.Length * 2);
                            ids.CopyTo(larger, 0);
                            ArrayPool<long>.Shared.Return(ids);
                            ids = larger;
                        }
                        ids[acks++] = id;
                    }
                    if (locked is not null)
                    {
                        await FlushAndReleaseAsync(locked);
                        locked = null;
                    }
                    input.AdvanceTo(buffer.Start, buffer.End);
                    if (acks > 0)
                    {
                        await self.WriteLock.WaitAsync();
                        for (int i = 0; i < acks; i++)
                        {
                            Span<byte> ack = self.Output.GetSpan(4 + RelayWire.AckLength);
                            BinaryPrimitives.WriteInt32LittleEndian(ack, RelayWire.AckLength);
                            RelayWire.WriteAck(ack[4..], ids[i]);
                            self.Output.Advance(4 + RelayWire.AckLength);
                        }
                        await FlushAndReleaseAsync(self);
                    }
                }
                finally
                {
                    if (locked is not null)
                    {
                        locked.WriteLock.Release();
                    }
                    ArrayPool<long>.Shared.Return(ids);
                }
                if (read.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or InvalidDataException)
        {
        }
        finally
        {
            if (user != 0)
            {
                Users.Remove(user, self);
            }
        }
    }

    private static async ValueTask FlushAndReleaseAsync(Peer peer)
    {
        try
        {
            await peer.Output.FlushAsync();
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or InvalidOperationException)
        {
            // the recipient went away: its own loop cleans up
        }
        finally
        {
            peer.WriteLock.Release();
        }
    }

    private static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> frame)
    {
        frame = default;
        if (buffer.Length < 4)
        {
            return false;
        }
        Span<byte> prefix = stackalloc byte[4];
        buffer.Slice(0, 4).CopyTo(prefix);
        int length = BinaryPrimitives.ReadInt32LittleEndian(prefix);
        if (length < 0 || length > MaxFrame)
        {
            throw new InvalidDataException($"frame length {length}");
        }
        if (buffer.Length < 4 + length)
        {
            return false;
        }
        frame = buffer.Slice(4, length);
        buffer = buffer.Slice(4 + length);
        return true;
    }

    private static long ReadUser(ReadOnlySequence<byte> frame)
    {
        Span<byte> id = stackalloc byte[8];
        if (frame.Length != 8)
        {
            throw new InvalidDataException("the first frame is the user id (8 bytes)");
        }
        frame.CopyTo(id);
        return BinaryPrimitives.ReadInt64LittleEndian(id);
    }
}
