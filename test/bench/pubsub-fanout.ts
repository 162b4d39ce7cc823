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
import { IdScanner, createNode, deliveries, filler, loadLogin, percentile, publishItems, subscribers } from "./lib.js";
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

const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

function payloadOf(bytes: number): string {
  return `<entry xmlns='http://www.w3.org/2005/Atom'><title>Soliloquy</title><summary>${filler(bytes)}</summary></entry>`;
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

async function runOnce(ts: TestServer, count: number, opts: Options): Promise<void> {
  const node = `bench-${count}`;
  const service = "pubsub.localhost";
  const publisher = await loadLogin(ts.c2sPort, "publisher", "x", { resource: "pub" });
  await createNode(publisher, service, node);

  const t0 = performance.now();
  const clients = await subscribers(ts.c2sPort, count, 250, { service, node });
  const setupMs = performance.now() - t0;
  const listeners = clients.map((c) => new IdScanner(c.socket, /id='(b\d+)'/g));

  const instance = (ts.server.modules.service("pubsub.localhost", "pubsub") as PubsubComponent);
  const stats0 = { ...instance.broadcaster.stats };
  let sharedOk = true;
  const tap = (messages: readonly Element[]) => {
    const first = messages[0]?.children[0];
    if (messages.some((m) => m.children[0] !== first)) sharedOk = false;
  };
  instance.broadcaster.taps.push(tap);

  const payload = payloadOf(opts.payload);
  const start = performance.now();
  const { sentAt, rtts: rtt, seconds: publishSeconds } = await publishItems(publisher, { service, node }, opts.publishes, { id: (k) => `b${k}`, iqId: (k) => `p${k}`, payload });

  // Wait until every subscriber has seen every item (or give up after 30 s).
  const { latencies, missing, last } = await deliveries(listeners, sentAt, 30000);
  const lastArrival = Math.max(start, last);
  instance.broadcaster.taps.splice(instance.broadcaster.taps.indexOf(tap), 1);
  const stats = instance.broadcaster.stats;
  const events = stats.events - stats0.events;
  const shared = stats.sharedPayloads - stats0.sharedPayloads;
  const messages = stats.messages - stats0.messages;
  const deliveredPerSecond = latencies.length / ((lastArrival - start) / 1000);
  const ser = serializationFigures(count, payload);

  console.log(`\n== ${count} subscribers, ${opts.publishes} publishes of ${opts.payload} bytes, storage ${opts.storage}`);
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
