// Server-Sent Events fan-out against XMPP fan-out on the same node: a real Herald on loopback with
// mod_pubsub_http, one node, N HTTP listeners on /pubsub/pubsub.localhost/<node>/events (raw TCP
// sockets that scan for `id: ` lines), then N XMPP subscribers of the same node (raw TCP sockets that
// scan for item ids), one publisher publishing P items one after another. Prints, per transport:
// publishes per second, deliveries per second, publish -> bytes-read latency percentiles, missing
// deliveries, and for SSE the streams dropped as slow readers. A benchmark: prints, never fails.
//
//   npm run build && node dist/test/bench/pubsub-sse.js [--listeners 1000] [--publishes 50] [--payload 1024]
//
// Both ends run in this one process, so the figures include the clients' cost.

import { connect, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import { eventStreamsOf } from "../../modules/mod_pubsub_http/sse.js";
import { IdScanner, createNode, deliveries, filler, inBatches, loadLogin, percentile as pct, publishItems, subscribers } from "./lib.js";

interface Options {
  listeners: number;
  publishes: number;
  payload: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { listeners: 1000, publishes: 50, payload: 1024 };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, "");
    if (k in o) (o as unknown as Record<string, number>)[k] = Number(argv[i + 1]);
  }
  return o;
}

const CONFIG = `
admins = { "publisher@localhost" }
authentication = "insecure"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
storage = "memory"
VirtualHost "localhost"
Component "pubsub.localhost" "pubsub"
  modules_enabled = { "pubsub_http" }
  pubsub_http_rate_limit = 0
  -- Every reader connects from loopback.
  pubsub_http_sse_max_streams_per_ip = 1000000
`;

const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

function sseListener(port: number, node: string): Promise<{ socket: Socket; scanner: IdScanner }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.write(`GET /pubsub/pubsub.localhost/${node}/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n`);
      socket.once("data", (first: Buffer) => {
        if (!first.toString().startsWith("HTTP/1.1 200")) reject(new Error(`SSE refused: ${first.toString().split("\r\n")[0]}`));
        else resolve({ socket, scanner: new IdScanner(socket, /id: (b\w+-\d+)/g) });
      });
    });
  });
}

function publishAll(publisher: RawClient, node: string, tag: string, opts: Options): Promise<{ sentAt: Map<string, number>; seconds: number }> {
  const payload = `<entry xmlns='http://www.w3.org/2005/Atom'><title>t</title><summary>${filler(opts.payload)}</summary></entry>`;
  return publishItems(publisher, { service: "pubsub.localhost", node }, opts.publishes, { id: (k) => `b${tag}-${k}`, iqId: (k) => `p${tag}${k}`, payload });
}

async function report(label: string, scanners: IdScanner[], sentAt: Map<string, number>, seconds: number, opts: Options, extra = ""): Promise<void> {
  const { latencies, missing, last } = await deliveries(scanners, sentAt, 30000);
  const first = Math.min(...sentAt.values());
  console.log(`\n== ${label}: ${scanners.length} listeners, ${opts.publishes} publishes of ${opts.payload} bytes`);
  console.log(`publishes per second:   ${(opts.publishes / seconds).toFixed(1)}`);
  console.log(`deliveries per second:  ${(latencies.length / ((last - first) / 1000)).toFixed(0)}`);
  console.log(`latency:                p50 ${fmt(pct(latencies, 50))}  p95 ${fmt(pct(latencies, 95))}  p99 ${fmt(pct(latencies, 99))}  max ${fmt(latencies[latencies.length - 1] ?? NaN)}`);
  console.log(`missing deliveries:     ${missing}${extra}`);
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const ts: TestServer = await startTestServer({ config: CONFIG });
  try {
    const node = "bench";
    const publisher = await loadLogin(ts.c2sPort, "publisher", "x", { resource: "pub" });
    await createNode(publisher, "pubsub.localhost", node);

    // SSE
    let t0 = performance.now();
    const sse = await inBatches(opts.listeners, 200, () => sseListener(ts.httpPort, node));
    console.log(`SSE setup: ${((performance.now() - t0) / 1000).toFixed(1)} s for ${sse.length} streams`);
    const streams = eventStreamsOf("pubsub.localhost")!;
    const dropped0 = streams.stats.dropped;
    const a = await publishAll(publisher, node, "s", opts);
    await report("SSE", sse.map((s) => s.scanner), a.sentAt, a.seconds, opts, `; slow streams dropped: ${streams.stats.dropped - dropped0}`);
    for (const s of sse) s.socket.destroy();

    // XMPP
    t0 = performance.now();
    const clients = await subscribers(ts.c2sPort, opts.listeners, 250, { service: "pubsub.localhost", node });
    console.log(`\nXMPP setup: ${((performance.now() - t0) / 1000).toFixed(1)} s for ${clients.length} subscribers`);
    const scanners = clients.map((c) => new IdScanner(c.socket, /id='(b\w+-\d+)'/g));
    const b = await publishAll(publisher, node, "x", opts);
    await report("XMPP", scanners, b.sentAt, b.seconds, opts);
    for (const c of clients) c.socket.destroy();
    publisher.close();
  } finally {
    await ts.stop();
  }
}

await main();
