// Drives the gateway's echo endpoint with the Node `ws` client, as a Node app would use it:
// default options (so permessage-deflate is offered), text, binary, ping, then a clean close.
// Prints one JSON line with what it observed; exits non-zero on any mismatch.
import WebSocket from 'ws';
import { randomBytes } from 'node:crypto';

const url = process.argv[2];
const fail = (message) => { console.error(`FAIL: ${message}`); process.exit(1); };
setTimeout(() => fail('timed out'), 15000).unref();

const ws = new WebSocket(url);
const inbox = [];
let waiting = null;
ws.on('message', (data, isBinary) => {
  inbox.push({ data, isBinary });
  if (waiting) { const w = waiting; waiting = null; w(); }
});
const next = () => new Promise((resolve) => {
  if (inbox.length) return resolve(inbox.shift());
  waiting = () => resolve(inbox.shift());
});
ws.on('error', (e) => fail(`socket error: ${e.message}`));

ws.on('open', async () => {
  const observed = { extensions: ws.extensions, protocol: ws.protocol };

  ws.send('hello from node');
  const text = await next();
  if (text.isBinary || text.data.toString() !== 'hello from node') fail('text echo');

  const unicode = 'κόσμε € 😀';
  ws.send(unicode);
  const uni = await next();
  if (uni.data.toString('utf8') !== unicode) fail('unicode echo');

  const binary = randomBytes(70000);
  ws.send(binary);
  const bin = await next();
  if (!bin.isBinary || !Buffer.from(bin.data).equals(binary)) fail('binary echo');

  const pong = new Promise((resolve) => ws.once('pong', resolve));
  ws.ping(Buffer.from('are you there'));
  const pongData = await pong;
  if (pongData.toString() !== 'are you there') fail('pong payload');

  ws.on('close', (code, reason) => {
    observed.closeCode = code;
    observed.closeReason = reason.toString();
    console.log(JSON.stringify({ ok: true, ...observed }));
    process.exit(0);
  });
  ws.close(1000, 'done');
});
