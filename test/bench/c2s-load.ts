// c2s load: logins per second and their latency, memory per session, iq round trips and message
// throughput between sessions, against any server on loopback (Herald or Prosody). Prints figures;
// it never fails on them.
//
//   node dist/test/bench/c2s-load.js --port 5222 --pid <server pid> [--sessions 1000] [--concurrency 50]
//          [--pings 20000] [--messages 20000] [--label herald]
//
// The server must accept PLAIN without TLS for any password (Prosody's "insecure" authentication,
// as in ../shared/prosody-reference and test/bench/run-c2s-vs-prosody.sh).

import type { RawClient } from "../helpers/xmpp-client.js";
import { latencySummary as percentiles, loadLogin, pool, rssKiB } from "./lib.js";

interface Args {
  port: number;
  pid?: number;
  sessions: number;
  concurrency: number;
  pings: number;
  messages: number;
  label: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { port: 5222, sessions: 1000, concurrency: 50, pings: 20000, messages: 20000, label: "server" };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i].replace(/^--/, ""), argv[i + 1]];
    if (k === "label") a.label = v;
    else if (k in a || k === "pid") (a as unknown as Record<string, number>)[k] = Number(v);
    else throw new Error(`unknown option --${k}`);
  }
  return a;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const out = (s: string) => console.log(`[${args.label}] ${s}`);
  const rss0 = rssKiB(args.pid);

  // 1. Logins.
  const clients: RawClient[] = [];
  const loginTimes: number[] = [];
  const loginsPerSecond = await pool(args.sessions, args.concurrency, async (n) => {
    const start = performance.now();
    clients[n] = await loadLogin(args.port, `bench${n}`, "pw", { resource: "load" });
    loginTimes.push(performance.now() - start);
  });
  const loginSecs = args.sessions / loginsPerSecond;
  out(`logins: ${args.sessions} in ${loginSecs.toFixed(2)} s = ${(args.sessions / loginSecs).toFixed(0)}/s (concurrency ${args.concurrency}); latency ${percentiles(loginTimes)}`);

  await new Promise((r) => setTimeout(r, 1000));
  const rss1 = rssKiB(args.pid);
  if (rss0 !== undefined && rss1 !== undefined) {
    out(`memory: RSS ${(rss0 / 1024).toFixed(1)} MiB idle -> ${(rss1 / 1024).toFixed(1)} MiB with ${args.sessions} sessions = ${((rss1 - rss0) / args.sessions).toFixed(1)} KiB per session`);
  }

  // 2. iq ping round trips, spread over the sessions, `concurrency` in flight.
  const rtts: number[] = [];
  const t1 = performance.now();
  let sent = 0;
  await Promise.all(
    clients.slice(0, args.concurrency).map(async (c, k) => {
      while (sent < args.pings) {
        const id = `p${k}-${sent++}`;
        const start = performance.now();
        await c.iq(`<iq type='get' id='${id}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
        rtts.push(performance.now() - start);
      }
    }),
  );
  const pingSecs = (performance.now() - t1) / 1000;
  out(`iq ping: ${args.pings} in ${pingSecs.toFixed(2)} s = ${(args.pings / pingSecs).toFixed(0)}/s; round trip ${percentiles(rtts)}`);

  // 3. Messages from one session to another (full JIDs), pairs of sessions in parallel.
  const pairs = Math.min(args.concurrency, Math.floor(clients.length / 2));
  const perPair = Math.floor(args.messages / pairs);
  const latencies: number[] = [];
  const t2 = performance.now();
  await Promise.all(
    Array.from({ length: pairs }, async (_, k) => {
      const from = clients[2 * k];
      const to = clients[2 * k + 1];
      for (let i = 0; i < perPair; i++) {
        const start = performance.now();
        from.send(`<message to='${to.jid}' type='chat' id='m${i}'><body>hello ${i}</body></message>`);
        const got = await to.next(10000);
        if (got.name !== "message") throw new Error(`expected a message, got ${got}`);
        latencies.push(performance.now() - start);
      }
    }),
  );
  const msgSecs = (performance.now() - t2) / 1000;
  out(`messages: ${pairs * perPair} in ${msgSecs.toFixed(2)} s = ${((pairs * perPair) / msgSecs).toFixed(0)}/s over ${pairs} pairs; delivery ${percentiles(latencies)}`);

  for (const c of clients) c.close();
  await new Promise((r) => setTimeout(r, 500));
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
