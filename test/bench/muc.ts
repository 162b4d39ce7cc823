// Group chat fan-out benchmark against any XMPP server on loopback (Herald or Prosody, see
// run-muc-vs-prosody.sh): N occupants connect over TCP and join one room; then
//   latency:    one groupchat message at a time, each waited for at every occupant: p50/p99 of
//               send -> bytes read, per recipient
//   throughput: a burst of messages sent back to back: messages/s (and deliveries/s) until every
//               occupant has read every one
//   memory:     the server's RSS after login and after the joins, per occupant (--pid)
//
//   npm run build && node dist/test/bench/muc.js --port 5222 [--pid PID] [--occupants 1000]
//       [--latency 50] [--burst 200] [--label name] [--room bench@conference.localhost]
//
// The server must accept any password (authentication = "insecure") over plain TCP. Occupants
// read with a byte scanner, not an XML parser, so the client side costs little.

import { performance } from "node:perf_hooks";
import type { RawClient } from "../helpers/xmpp-client.js";
import { inBatches, loadLogin, percentile, rssKiB } from "./lib.js";

interface Options {
  port: number;
  pid?: number;
  occupants: number;
  latency: number;
  burst: number;
  label: string;
  room: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { port: 5222, occupants: 1000, latency: 50, burst: 200, label: "server", room: "bench@conference.localhost" };
  for (let i = 0; i < argv.length; i += 2) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case "--port": o.port = Number(v); break;
      case "--pid": o.pid = Number(v); break;
      case "--occupants": o.occupants = Number(v); break;
      case "--latency": o.latency = Number(v); break;
      case "--burst": o.burst = Number(v); break;
      case "--label": o.label = v; break;
      case "--room": o.room = v; break;
      default: throw new Error(`unknown option ${argv[i]}`);
    }
  }
  return o;
}

/** Scans an occupant's socket: marks of groupchat bodies ("<body>Bn</body>") and its self-presence. */
class Occupant {
  private tail = "";
  readonly seen = new Map<number, number>();
  joined = false;
  private onJoin?: () => void;
  private onSeen?: () => void;

  constructor(readonly client: RawClient) {
    client.socket.removeAllListeners("data");
    client.socket.on("data", (chunk: Buffer) => this.scan(chunk.toString("utf8")));
  }

  private scan(text: string): void {
    const now = performance.now();
    const s = this.tail + text;
    if (!this.joined && /code=["']110["']/.test(s)) {
      this.joined = true;
      this.onJoin?.();
    }
    let found = false;
    for (const m of s.matchAll(/<body>B(\d+)<\/body>/g)) {
      const n = Number(m[1]);
      if (!this.seen.has(n)) {
        this.seen.set(n, now);
        found = true;
      }
    }
    if (found) this.onSeen?.();
    this.tail = s.slice(-40);
  }

  waitJoined(): Promise<void> {
    return this.joined ? Promise.resolve() : new Promise((r) => (this.onJoin = r));
  }

  waitSeen(n: number): Promise<void> {
    if (this.seen.has(n)) return Promise.resolve();
    return new Promise((r) => {
      this.onSeen = () => {
        if (this.seen.has(n)) r();
      };
    });
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const rss0 = rssKiB(o.pid);
  const t0 = performance.now();
  const clients = await inBatches(o.occupants, 50, (i) => loadLogin(o.port, `user${i}`, "x", { resource: "bench" }));
  for (const c of clients) c.send("<presence/>");
  await new Promise((r) => setTimeout(r, 500));
  const rssLogin = rssKiB(o.pid);
  const loginMs = performance.now() - t0;

  // The first occupant creates the room and accepts the default configuration (instant room).
  const occupants = clients.map((c) => new Occupant(c));
  const t1 = performance.now();
  occupants[0].client.send(`<presence to='${o.room}/user0'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
  await occupants[0].waitJoined();
  occupants[0].client.send(
    `<iq type='set' to='${o.room}' id='cfg'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`,
  );
  await new Promise((r) => setTimeout(r, 300));
  for (let start = 1; start < occupants.length; start += 25) {
    const batch = occupants.slice(start, start + 25);
    for (const [k, occ] of batch.entries()) occ.client.send(`<presence to='${o.room}/user${start + k}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>`);
    await Promise.all(batch.map((occ) => occ.waitJoined()));
  }
  const joinMs = performance.now() - t1;
  await new Promise((r) => setTimeout(r, 1000));
  const rssJoined = rssKiB(o.pid);

  const sender = occupants[0].client;
  const send = (n: number) => sender.send(`<message type='groupchat' to='${o.room}' id='m${n}'><body>B${n}</body></message>`);

  // Latency: one message at a time.
  const lat: number[] = [];
  let n = 0;
  for (let i = 0; i < o.latency; i++, n++) {
    const sent = performance.now();
    send(n);
    await Promise.all(occupants.map((occ) => occ.waitSeen(n)));
    for (const occ of occupants) lat.push(occ.seen.get(n)! - sent);
  }
  lat.sort((a, b) => a - b);

  // Throughput: a burst.
  const first = n;
  const tb = performance.now();
  for (let i = 0; i < o.burst; i++, n++) send(n);
  const last = n - 1;
  await Promise.all(occupants.map((occ) => occ.waitSeen(last)));
  // Every message of the burst reached every occupant.
  await Promise.all(occupants.map(async (occ) => {
    for (let k = first; k <= last; k++) await occ.waitSeen(k);
  }));
  const burstMs = performance.now() - tb;

  const rssEnd = rssKiB(o.pid);
  const per = (a?: number, b?: number) => (a !== undefined && b !== undefined ? `${(((b - a) * 1024) / o.occupants / 1024).toFixed(1)} KiB` : "n/a");
  console.log(`[${o.label}] ${o.occupants} occupants`);
  console.log(`  login ${(loginMs / 1000).toFixed(1)} s, joins ${(joinMs / 1000).toFixed(1)} s`);
  console.log(`  latency (${o.latency} messages, one at a time): p50 ${percentile(lat, 50).toFixed(2)} ms, p99 ${percentile(lat, 99).toFixed(2)} ms, max ${lat.at(-1)!.toFixed(2)} ms`);
  console.log(`  burst of ${o.burst}: ${((o.burst * 1000) / burstMs).toFixed(0)} messages/s, ${((o.burst * o.occupants * 1000) / burstMs).toFixed(0)} deliveries/s (${burstMs.toFixed(0)} ms)`);
  console.log(`  RSS: start ${rss0 ?? "n/a"} KiB, after login ${rssLogin ?? "n/a"} KiB, joined ${rssJoined ?? "n/a"} KiB, end ${rssEnd ?? "n/a"} KiB`);
  console.log(`  RSS per occupant: ${per(rssLogin, rssJoined)} for the room (joins only), ${per(rss0, rssJoined)} with its session`);
  console.log(
    JSON.stringify({
      label: o.label,
      occupants: o.occupants,
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      messagesPerSecond: (o.burst * 1000) / burstMs,
      rssPerOccupantKiB: rssLogin !== undefined && rssJoined !== undefined ? (rssJoined - rssLogin) / o.occupants : undefined,
    }),
  );
  for (const c of clients) c.socket.destroy();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
