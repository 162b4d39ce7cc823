// Pubsub fan-out across federation: one node on pubsub.a.test, N subscribers (default 1000) either
// local (accounts of a.test) or remote (accounts of b.test, a second Herald on loopback reached over
// s2s). Prints notifications delivered per second (first publish to last notification read) and
// latency percentiles for both, and how many s2s connections carried the remote ones.
//
//   npm run build && node dist/test/bench/pubsub-s2s.js [--subscribers 1000] [--publishes 50] [--payload 1024] [--only local|remote] [--profile FILE]
//
// Both servers and every client run in this one process (as in pubsub-fanout.ts); subscribers scan
// their sockets for item ids instead of parsing XML.

import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { performance } from "node:perf_hooks";
import { startTestServer, type TestServer } from "../helpers/harness.js";
import { A, B, startPair } from "../s2s/helpers.js";
import { IdScanner, createNode, deliveries, filler, loadLogin, percentile as pct, publishItems, subscribers } from "./lib.js";

interface Options {
  subscribers: number;
  publishes: number;
  payload: number;
  only?: "local" | "remote";
  /** Write a CPU profile of the publish phase (from the first publish to the last notification) to this file. */
  profile?: string;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { subscribers: 1000, publishes: 50, payload: 1024 };
  for (let i = 0; i < argv.length; i++) {
    const v = Number(argv[i + 1]);
    if (argv[i] === "--subscribers") opts.subscribers = v;
    else if (argv[i] === "--publishes") opts.publishes = v;
    else if (argv[i] === "--payload") opts.payload = v;
    else if (argv[i] === "--profile" && argv[i + 1]) opts.profile = argv[i + 1];
    else if (argv[i] === "--only" && (argv[i + 1] === "local" || argv[i + 1] === "remote")) opts.only = argv[i + 1] as Options["only"];
    else continue;
    i++;
  }
  return opts;
}

async function run(label: string, publishTo: TestServer, subscribeOn: TestServer, subDomain: string, opts: Options): Promise<void> {
  const service = `pubsub.${A.domain}`;
  const node = `bench-${label}`;
  const publisher = await loadLogin(publishTo.c2sPort, "admin", "x", { resource: "pub", domain: A.domain });
  await createNode(publisher, service, node);
  const t0 = performance.now();
  const clients = await subscribers(subscribeOn.c2sPort, opts.subscribers, 50, { service, node, domain: subDomain });
  const setup = performance.now() - t0;
  const listeners = clients.map((c) => new IdScanner(c.socket, /id='(b\d+)'/g));
  const payload = `<entry xmlns='http://www.w3.org/2005/Atom'><summary>${filler(opts.payload)}</summary></entry>`;
  const profiler = opts.profile ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post("Profiler.enable");
    await profiler.post("Profiler.start");
  }
  // The most bytes an s2s connection of the publishing server held for its peer at once.
  let maxBuffered = 0;
  const sampler = setInterval(() => {
    for (const r of publishTo.server.s2s?.list() ?? []) maxBuffered = Math.max(maxBuffered, r.buffered);
  }, 10);
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  const { sentAt } = await publishItems(publisher, { service, node }, opts.publishes, { id: (k) => `b${k}`, iqId: (k) => `p${k}`, payload });
  const { latencies: lat, missing, last: lastRead } = await deliveries(listeners, sentAt, 60000);
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  if (profiler) {
    const { profile } = await profiler.post("Profiler.stop");
    writeFileSync(`${opts.profile!}.${label}.cpuprofile`, JSON.stringify(profile));
    profiler.disconnect();
  }
  const last = Math.max(start, lastRead);
  const s2s = publishTo.server.s2s?.list().filter((s) => s.direction === "out").length ?? 0;
  console.log(`\n== ${label}: ${opts.subscribers} subscribers on ${subDomain}, ${opts.publishes} publishes of ${opts.payload} bytes`);
  console.log(`setup (login + subscribe):     ${(setup / 1000).toFixed(1)} s`);
  console.log(`notifications delivered per s: ${(lat.length / ((last - start) / 1000)).toFixed(0)}`);
  console.log(`latency:                       p50 ${pct(lat, 50).toFixed(1)} ms  p95 ${pct(lat, 95).toFixed(1)} ms  p99 ${pct(lat, 99).toFixed(1)} ms`);
  // CPU time of this process (both servers and every client) per notification: steadier than the
  // rate on a machine other processes share.
  console.log(`CPU per notification:          ${((cpu.user + cpu.system) / Math.max(1, lat.length)).toFixed(1)} µs (user ${(cpu.user / 1000).toFixed(0)} ms, system ${(cpu.system / 1000).toFixed(0)} ms)`);
  console.log(`missing notifications:         ${missing}`);
  console.log(`outgoing s2s connections:      ${s2s}`);
  if (s2s) console.log(`largest s2s send buffer:       ${(maxBuffered / 1048576).toFixed(1)} MiB`);
  for (const c of clients) c.socket.destroy();
  publisher.close();
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  // Local subscribers: one server.
  if (opts.only !== "remote") await runLocal(opts);
  // Remote subscribers: a.test publishes, b.test's accounts subscribe over s2s.
  if (opts.only !== "local") await runRemote(opts);
}

async function runLocal(opts: Options): Promise<void> {
  const extra = `authentication = "insecure"`;
  const local = await startTestServer({
    config: `admins = { "admin@${A.domain}" }\n${extra}\nc2s_require_encryption = false\nallow_unencrypted_plain_auth = true\nstorage = "memory"\nVirtualHost "${A.domain}"\nComponent "pubsub.${A.domain}" "pubsub"\n`,
  });
  try {
    await run("local", local, local, A.domain, opts);
  } finally {
    await local.stop();
  }
}

async function runRemote(opts: Options): Promise<void> {
  const extra = `authentication = "insecure"`;
  const pair = await startPair({ extra });
  try {
    await run("remote", pair.a, pair.b, B.domain, opts);
  } finally {
    await pair.stop();
  }
}

await main();
