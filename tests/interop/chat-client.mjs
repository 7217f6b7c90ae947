// A chat client written from docs/protocol.md alone, with Node's `ws` and @msgpack/msgpack: the proof that the
// document is enough for another language. Driven by tests/ChatGateway.Server.Tests (NodeChatClientTests).
//
//   node chat-client.mjs <ws-url> <token-of-A> <token-of-B> <user-id-of-B>
//
// A sends to B (1:1), B receives the Deliver, B syncs the conversation, A retries with the same client message
// id and gets the original ack. Prints one JSON line with what it saw; exits non-zero on any surprise.
import WebSocket from 'ws';
import { encode, decode } from '@msgpack/msgpack';
import { randomUUID } from 'node:crypto';

const [url, tokenA, tokenB, userB] = process.argv.slice(2);
// Ids reach 2^62: decode 64-bit integers as BigInt, and encode BigInt as int64.
const codec = { useBigInt64: true };
const T = { Send: 1, Sync: 2, Hello: 64, Ack: 65, Deliver: 66, SyncResult: 67, Error: 73 };

function connect(token) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } });
    const inbox = [];
    const waiters = [];
    socket.binaryType = 'nodebuffer';
    socket.on('message', (data, isBinary) => {
      if (!isBinary) return reject(new Error('server sent a text frame'));
      const message = decode(data, codec);
      const i = waiters.findIndex(w => w.match(message));
      if (i >= 0) waiters.splice(i, 1)[0].resolve(message); else inbox.push(message);
    });
    socket.on('error', reject);
    socket.on('unexpected-response', (_, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    const next = (match) => new Promise((res) => {
      const i = inbox.findIndex(match);
      if (i >= 0) res(inbox.splice(i, 1)[0]); else waiters.push({ match, resolve: res });
    });
    socket.on('open', () => resolve({ socket, next, send: (array) => socket.send(encode(array, codec)) }));
  });
}

const n = (x) => Number(x); // small values (seq, type, rid) arrive as numbers or BigInt depending on their encoding
const fail = (why) => { console.error(why); process.exit(1); };
const timer = setTimeout(() => fail('timed out'), 20000);

const a = await connect(tokenA);
const b = await connect(tokenB);
const helloA = await a.next(m => n(m[0]) === T.Hello);
const helloB = await b.next(m => n(m[0]) === T.Hello);

const clientId = Buffer.from(randomUUID().replaceAll('-', ''), 'hex');
const body = Buffer.from('hello from node', 'utf8');
a.send([T.Send, 1, 0, BigInt(userB), clientId, body]);
const ack = await a.next(m => n(m[0]) !== T.Hello && n(m[1]) === 1);
if (n(ack[0]) !== T.Ack) fail(`expected Ack, got ${JSON.stringify(ack, (_, v) => typeof v === 'bigint' ? v.toString() : v)}`);
const [, , conversation, seq, timestamp, duplicate] = ack;

const deliver = await b.next(m => n(m[0]) === T.Deliver);
const [, dConversation, dSeq, dSender, dTimestamp, dClientId, dBody] = deliver;

b.send([T.Sync, 7, conversation, 0, 50]);
const sync = await b.next(m => n(m[0]) === T.SyncResult && n(m[1]) === 7);
const [, , , head, earliest, truncated, hasMore, messages] = sync;

a.send([T.Send, 2, conversation, 0, clientId, body]);
const retried = await a.next(m => n(m[0]) === T.Ack && n(m[1]) === 2);

clearTimeout(timer);
console.log(JSON.stringify({
  userA: String(helloA[1]), userB: String(helloB[1]),
  conversation: String(conversation), seq: n(seq), duplicate,
  deliver: { conversation: String(dConversation), seq: n(dSeq), sender: String(dSender), sameTimestamp: String(dTimestamp) === String(timestamp),
             sameClientId: Buffer.compare(Buffer.from(dClientId), clientId) === 0, body: Buffer.from(dBody).toString('utf8') },
  sync: { head: n(head), earliest: n(earliest), truncated, hasMore, bodies: messages.map(m => Buffer.from(m[4]).toString('utf8')) },
  retry: { seq: n(retried[3]), duplicate: retried[5] },
}));
a.socket.close(1000);
b.socket.close(1000);
