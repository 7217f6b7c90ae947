// The chat protocol from a real browser: headless Chromium (Debian's, driven by playwright-core) opens two
// WebSockets with the token in the query string, as browsers must (they cannot set headers on a WebSocket),
// and speaks MessagePack with @msgpack/msgpack's browser build. Driven by NodeChatClientTests.
//
//   node browser-chat-client.mjs <ws-url> <token-of-A> <token-of-B> <user-id-of-B>
//
// Prints one JSON line with what the page saw.
import { chromium } from 'playwright-core';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const [url, tokenA, tokenB, userB] = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox'], // the CI runs as root
});
try {
  const page = await browser.newPage();
  // A page from the gateway's own origin, as a web client served next to it would be: Chromium blocks pages of
  // other (or no) origins from reaching loopback addresses (Local Network Access).
  await page.goto(url.replace(/^ws/, 'http').replace(/\/ws$/, '/healthz'));
  await page.addScriptTag({ path: path.join(here, 'node_modules/@msgpack/msgpack/dist.umd/msgpack.min.js') });
  const seen = await page.evaluate(async ({ url, tokenA, tokenB, userB }) => {
    const { encode, decode } = window.MessagePack;
    const codec = { useBigInt64: true };
    const n = (x) => Number(x);
    const open = (token) => new Promise((resolve, reject) => {
      const socket = new WebSocket(`${url}?access_token=${encodeURIComponent(token)}`);
      socket.binaryType = 'arraybuffer';
      const inbox = [], waiters = [];
      socket.onmessage = (e) => {
        const message = decode(new Uint8Array(e.data), codec);
        const i = waiters.findIndex(w => w.match(message));
        if (i >= 0) waiters.splice(i, 1)[0].resolve(message); else inbox.push(message);
      };
      socket.onerror = () => reject(new Error('websocket error'));
      socket.onopen = () => resolve({
        socket,
        send: (array) => socket.send(encode(array, codec)),
        next: (match) => new Promise((res) => {
          const i = inbox.findIndex(match);
          if (i >= 0) res(inbox.splice(i, 1)[0]); else waiters.push({ match, resolve: res });
        }),
      });
    });
    const a = await open(tokenA);
    const b = await open(tokenB);
    const hello = await a.next(m => n(m[0]) === 64);
    await b.next(m => n(m[0]) === 64);
    const clientId = crypto.getRandomValues(new Uint8Array(16));
    a.send([1, 1, 0, BigInt(userB), clientId, new TextEncoder().encode('hello from a browser')]);
    const ack = await a.next(m => n(m[0]) === 65 && n(m[1]) === 1);
    const deliver = await b.next(m => n(m[0]) === 66);
    a.socket.close(1000);
    b.socket.close(1000);
    return {
      user: String(hello[1]),
      ackSeq: n(ack[3]),
      conversation: String(ack[2]),
      deliverConversation: String(deliver[1]),
      deliverSeq: n(deliver[2]),
      sender: String(deliver[3]),
      body: new TextDecoder().decode(deliver[6]),
      origin: location.origin,
    };
  }, { url, tokenA, tokenB, userB });
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
