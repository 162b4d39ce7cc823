// Many cheap pubsub subscribers for fan-out tests, in a process of their own: each is a raw TCP
// session (PLAIN without TLS, to a server that accepts any password) that binds a resource and
// subscribes its full JID to a node, then only counts the notifications it reads. No XML parser:
// each step waits for a marker in the text received.
//
//   node raw-subscribers.mjs PORT COUNT SERVICE NODE MARKER [CONCURRENCY]
//
// stdout, one JSON object a line: {"ready":COUNT} once every session has subscribed, then
// {"received":N} whenever the number of MARKER occurrences read (over all sessions) has changed,
// at most every 50 ms. {"error":"..."} and exit 1 on failure. Ends when stdin closes.

import { connect } from "node:net";

const [port, count, service, node, marker, concurrency = "100"] = process.argv.slice(2);
const N = Number(count);
const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";
const sockets = [];
let received = 0;

function fail(message) {
  process.stdout.write(JSON.stringify({ error: message }) + "\n");
  process.exit(1);
}

function session(i) {
  return new Promise((resolve, reject) => {
    const socket = connect({ port: Number(port), host: "127.0.0.1" });
    sockets.push(socket);
    let text = "";
    let step = 0;
    let tail = "";
    // Two round trips: the authentication goes with the stream header, and binding and subscribing
    // with the restarted stream's header (the server handles a stream's stanzas in order).
    const bind = "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>";
    const subscribe = `<iq type='set' to='${service}' id='s'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='${node}' jid='s${i}@localhost/r'/></pubsub></iq>`;
    const steps = [
      ["<success", () => HEADER + bind + subscribe],
      ["</iq>", () => undefined], // bind
      ["</iq>", () => undefined], // subscribe
    ];
    socket.setEncoding("latin1");
    socket.on("error", reject);
    socket.on("close", () => {
      if (step < steps.length) reject(new Error(`session ${i} closed at step ${step}: ${text.slice(-300)}`));
    });
    socket.on("data", (chunk) => {
      if (step >= steps.length) {
        // Count markers, including one split across two reads.
        const s = tail + chunk;
        for (let at = s.indexOf(marker); at >= 0; at = s.indexOf(marker, at + marker.length)) received++;
        tail = s.slice(Math.max(0, s.length - marker.length + 1));
        return;
      }
      text += chunk;
      while (step < steps.length) {
        const [wait, next] = steps[step];
        const at = text.indexOf(wait);
        if (at < 0) return;
        const seen = text.slice(0, at + wait.length);
        text = text.slice(at + wait.length);
        if (step > 0 && !/type=["']result["']/.test(seen)) return reject(new Error(`session ${i}: ${step === 1 ? "bind" : "subscription"} refused: ${seen}`));
        step++;
        const out = next();
        if (out !== undefined) socket.write(out);
        if (step === steps.length) return resolve();
      }
    });
    socket.write(HEADER + `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0s${i}\0pw`).toString("base64")}</auth>`);
  });
}

let next = 0;
async function worker() {
  while (next < N) await session(next++);
}

try {
  await Promise.all(Array.from({ length: Number(concurrency) }, worker));
} catch (err) {
  fail(err.message);
}
process.stdout.write(JSON.stringify({ ready: N }) + "\n");
let reported = 0;
const timer = setInterval(() => {
  if (received === reported) return;
  reported = received;
  process.stdout.write(JSON.stringify({ received }) + "\n");
}, 50);
process.stdin.resume();
process.stdin.on("end", () => {
  clearInterval(timer);
  for (const s of sockets) s.destroy();
  process.exit(0);
});
