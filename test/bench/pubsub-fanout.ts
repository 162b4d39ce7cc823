// Pubsub fan-out benchmark: a real Herald on loopback, one node, N subscribers connected over TCP
// (default 1000 and 5000), one publisher. Prints, per N: publishes per second (each publish is
// answered once every notification has been handed to the subscribers' sessions), notification
// latency percentiles (publish sent -> notification bytes read by the subscriber), the broadcaster's
// counters (one shared <event/> per publish, whatever N: the serialized-once check), and what
// serializing a notification costs per recipient, with and without a cached serialization of the
// shared payload.
//
//   npm run build && node dist/test/bench/pubsub-fanout.js [--subscribers 1000,5000] [--publishes 50] [--storage leveldb|memory] [--payload 1024]
//
// Subscribers read with a byte scanner instead of an XML parser, so the client side costs little
// of the one process's time; the figures are still those of one process doing both ends.

import { performance } from "node:perf_hooks";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { RawClient } from "../helpers/xmpp-client.js";
import type { PubsubComponent } from "../../modules/lib/pubsub/services.js";
import { Element, serialize } from "../../src/xml/stanza.js";

interface Options {
  subscribers: number[];
  publishes: number;
  storage: "leveldb" | "memory";
  payload: number;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { subscribers: [1000, 5000], publishes: 50, storage: "leveldb", payload: 1024 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === "--subscribers") opts.subscribers = v.split(",").map(Number);
    else if (argv[i] === "--publishes") opts.publishes = Number(v);
    else if (argv[i] === "--storage") opts.storage = v === "memory" ? "memory" : "leveldb";
    else if (argv[i] === "--payload") opts.payload = Number(v);
    else continue;
    i++;
  }
  return opts;
}

const CONFIG = (storage: Options["storage"]) => `
admins = { "publisher@localhost" }
authentication = "insecure"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
${storage === "memory" ? 'storage = "memory"' : ""}
VirtualHost "localhost"
Component "pubsub.localhost" "pubsub"
`;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

/** A subscriber that only scans its socket for item ids and notes when each first shows up. */
class Listener {
  private tail = "";
  readonly seen = new Map<string, number>();

  constructor(client: RawClient, private readonly marker: RegExp) {
    client.socket.removeAllListeners("data");
    client.socket.on("data", (chunk: Buffer) => this.onData(chunk.toString("utf8")));
  }

  private onData(text: string): void {
    const now = performance.now();
    const s = this.tail + text;
    for (const m of s.matchAll(this.marker)) if (!this.seen.has(m[1])) this.seen.set(m[1], now);
    this.tail = s.slice(-64);
  }
}

async function inBatches<T>(count: number, batch: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let start = 0; start < count; start += batch) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - start) }, (_, k) => make(start + k)))));
  }
  return out;
}

function payloadOf(bytes: number): string {
  const filler = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(Math.ceil(bytes / 57)).slice(0, bytes);
  return `<entry xmlns='http://www.w3.org/2005/Atom'><title>Soliloquy</title><summary>${filler}</summary></entry>`;
}

/** Serialization cost of N notifications sharing one payload: walking the tree each time vs a cached inner string. */
function serializationFigures(n: number, payloadXml: string): { perRecipientUs: number; cachedUs: number } {
  const payload = new Element("entry", { xmlns: "http://www.w3.org/2005/Atom" }, [
    new Element("title", {}, ["Soliloquy"]),
    new Element("summary", {}, [payloadXml]),
  ]);
  const event = new Element("event", { xmlns: "http://jabber.org/protocol/pubsub#event" }, [
    new Element("items", { node: "bench" }, [new Element("item", { id: "x" }, [payload])]),
  ]);
  let t = performance.now();
  let bytes = 0;
  for (let i = 0; i < n; i++) bytes += serialize(new Element("message", { from: "pubsub.localhost", to: `u${i}@localhost/r`, id: `m${i}`, type: "headline" }, [event])).length;
  const walk = performance.now() - t;
  t = performance.now();
  const inner = serialize(event);
  for (let i = 0; i < n; i++) bytes += `<message from='pubsub.localhost' to='u${i}@localhost/r' id='m${i}' type='headline'>${inner}</message>`.length;
  const cached = performance.now() - t;
  if (bytes < 0) console.log(bytes);
  return { perRecipientUs: (walk * 1000) / n, cachedUs: (cached * 1000) / n };
}

async function runOnce(ts: TestServer, subscribers: number, opts: Options): Promise<void> {
  const node = `bench-${subscribers}`;
  const publisher = await RawClient.login(ts.c2sPort, "publisher", "x", { noTls: true, mechanism: "PLAIN", resource: "pub" });
  const created = await publisher.iq(`<iq type='set' to='pubsub.localhost' id='c'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='${node}'/></pubsub></iq>`);
  if (created.attrs.type !== "result") throw new Error(`create failed: ${created}`);

  const t0 = performance.now();
  const clients = await inBatches(subscribers, 250, async (i) => {
    const c = await RawClient.login(ts.c2sPort, `sub${i}`, "x", { noTls: true, mechanism: "PLAIN", resource: "r" });
    const r = await c.iq(`<iq type='set' to='pubsub.localhost' id='s'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='${node}' jid='${c.jid}'/></pubsub></iq>`);
    if (r.attrs.type !== "result") throw new Error(`subscribe failed: ${r}`);
    return c;
  });
  const setupMs = performance.now() - t0;
  const listeners = clients.map((c) => new Listener(c, /id='(b\d+)'/g));

  const instance = (ts.server.modules.service("pubsub.localhost", "pubsub") as PubsubComponent);
  const stats0 = { ...instance.broadcaster.stats };
  let sharedOk = true;
  const tap = (messages: readonly Element[]) => {
    const first = messages[0]?.children[0];
    if (messages.some((m) => m.children[0] !== first)) sharedOk = false;
  };
  instance.broadcaster.taps.push(tap);

  const payload = payloadOf(opts.payload);
  const sentAt = new Map<string, number>();
  const rtt: number[] = [];
  const start = performance.now();
  for (let k = 0; k < opts.publishes; k++) {
    const id = `b${k}`;
    const t = performance.now();
    sentAt.set(id, t);
    const r = await publisher.iq(`<iq type='set' to='pubsub.localhost' id='p${k}'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='${node}'><item id='${id}'>${payload}</item></publish></pubsub></iq>`, 60000);
    if (r.attrs.type !== "result") throw new Error(`publish failed: ${r}`);
    rtt.push(performance.now() - t);
  }
  const publishSeconds = (performance.now() - start) / 1000;

  // Wait until every subscriber has seen every item (or give up after 30 s).
  const deadline = performance.now() + 30000;
  while (performance.now() < deadline && listeners.some((l) => l.seen.size < opts.publishes)) await new Promise((r) => setTimeout(r, 20));
  let lastArrival = start;
  for (const l of listeners) for (const t of l.seen.values()) if (t > lastArrival) lastArrival = t;
  const latencies: number[] = [];
  let missing = 0;
  for (const l of listeners) {
    for (const [id, t] of sentAt) {
      const at = l.seen.get(id);
      if (at === undefined) missing++;
      else latencies.push(at - t);
    }
  }
  latencies.sort((a, b) => a - b);
  rtt.sort((a, b) => a - b);
  instance.broadcaster.taps.splice(instance.broadcaster.taps.indexOf(tap), 1);
  const stats = instance.broadcaster.stats;
  const events = stats.events - stats0.events;
  const shared = stats.sharedPayloads - stats0.sharedPayloads;
  const messages = stats.messages - stats0.messages;
  const deliveredPerSecond = latencies.length / ((lastArrival - start) / 1000);
  const ser = serializationFigures(subscribers, payload);

  console.log(`\n== ${subscribers} subscribers, ${opts.publishes} publishes of ${opts.payload} bytes, storage ${opts.storage}`);
  console.log(`setup (login + subscribe):      ${(setupMs / 1000).toFixed(1)} s`);
  console.log(`publishes per second:           ${(opts.publishes / publishSeconds).toFixed(1)} (publish round trip p50 ${fmt(percentile(rtt, 50))}, p95 ${fmt(percentile(rtt, 95))})`);
  console.log(`notifications delivered per s:  ${deliveredPerSecond.toFixed(0)}`);
  console.log(`notification latency:           p50 ${fmt(percentile(latencies, 50))}  p95 ${fmt(percentile(latencies, 95))}  p99 ${fmt(percentile(latencies, 99))}  max ${fmt(latencies[latencies.length - 1] ?? NaN)}`);
  console.log(`missing notifications:          ${missing}`);
  console.log(`serialized once:                ${events} events, ${messages} messages, ${shared} shared <event/> payloads (${shared === events ? "one per publish" : "NOT one per publish"}); all messages of an event share it: ${sharedOk}`);
  console.log(`serialization per recipient:    ${ser.perRecipientUs.toFixed(2)} us walking the shared tree, ${ser.cachedUs.toFixed(2)} us with a cached inner string`);

  for (const c of clients) c.socket.destroy();
  publisher.close();
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  for (const n of opts.subscribers) {
    const ts = await startTestServer({ config: CONFIG(opts.storage) });
    try {
      await runOnce(ts, n, opts);
    } finally {
      await ts.stop();
    }
  }
}

await main();
