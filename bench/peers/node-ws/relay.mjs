// The 1:1 relay of bench/peers/README.md on Node `ws`, perMessageDeflate off, written the way its README
// suggests: one WebSocketServer on an http.Server, a Map from user id to socket.
//   client -> server  [to: i64 LE][id: i64 LE][body]   (to = 0: heartbeat, no answer)
//   server -> to      [1][from: i64 LE][body]
//   server -> sender  [2][id: i64 LE]
// Endpoint /ws?user=N. POST /admin/gc (node --expose-gc) forces a GC and answers memory and session counts.
// Prints "PEER relay=PORT admin=PORT" once listening on 127.0.0.1 (port 0: the OS chooses).
import http from 'node:http';
import { WebSocketServer } from 'ws';

const users = new Map();

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/admin/gc') {
    if (global.gc) {
      global.gc();
      global.gc();
    }
    const memory = process.memoryUsage();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ sessions: users.size, workingSetBytes: memory.rss, gcHeapBytes: memory.heapUsed }));
    return;
  }
  res.writeHead(404);
  res.end();
});

const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, clientTracking: false });

wss.on('connection', (socket, req) => {
  const user = BigInt(new URL(req.url, 'http://x').searchParams.get('user') ?? '0');
  users.set(user, socket);
  socket.on('message', (data) => {
    if (data.length < 16) return;
    const to = data.readBigInt64LE(0);
    if (to === 0n) return; // heartbeat
    const recipient = users.get(to);
    if (recipient !== undefined) {
      const deliver = Buffer.allocUnsafe(9 + data.length - 16);
      deliver[0] = 1;
      deliver.writeBigInt64LE(user, 1);
      data.copy(deliver, 9, 16);
      recipient.send(deliver);
    }
    const ack = Buffer.allocUnsafe(9);
    ack[0] = 2;
    data.copy(ack, 1, 8, 16);
    socket.send(ack);
  });
  socket.on('close', () => {
    if (users.get(user) === socket) users.delete(user);
  });
  socket.on('error', () => {});
});

server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  console.log(`PEER relay=${port} admin=${port}`);
});
