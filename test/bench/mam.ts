// Message archive benchmark: XEP-0313 queries over a large archive (first page, last page, a `with`
// filter) and message throughput with archiving on, Herald and Prosody (Debian's `prosody`, mod_mam
// on its default "internal" file store) side by side. Prints one table; it never fails on figures.
//
//   npm run build && node dist/test/bench/mam.js [--messages 100000] [--prosody-fill 100000]
//        [--throughput 10000] [--pairs 10] [--queries 20] [--page 50] [--no-prosody]
//
// Herald's archive is filled through the store API (LevelDB without fsync per item, before Herald
// starts: a bulk load); Prosody's
// through c2s (its only way in: the archive owner sends to four online contacts, so Prosody also
// archives every message in the recipient's archive). Both servers run as their own processes on
// loopback with any password accepted, no TLS; the same client code measures both.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LevelStorage } from "../../src/storage/index.js";
import { elementToJson } from "../../src/xml/json.js";
import { Element } from "../../src/xml/stanza.js";
import type { RawClient } from "../helpers/xmpp-client.js";
import { freePort, loadLogin, percentile, rssKiB, waitForPort } from "./lib.js";

interface Args {
  messages: number;
  prosodyFill: number;
  throughput: number;
  pairs: number;
  queries: number;
  page: number;
  prosody: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { messages: 100_000, prosodyFill: 100_000, throughput: 10_000, pairs: 10, queries: 20, page: 50, prosody: true };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, "");
    if (k === "no-prosody") a.prosody = false;
    else if (k === "prosody-fill") a.prosodyFill = Number(argv[++i]);
    else if (k in a) (a as unknown as Record<string, number>)[k] = Number(argv[++i]);
    else throw new Error(`unknown option --${k}`);
  }
  return a;
}

const PEERS = 4;
const OWNER = "bench";
const HOST = "localhost";

function rssMiB(pid: number | undefined): number | undefined {
  const kib = rssKiB(pid);
  return kib === undefined ? undefined : kib / 1024;
}

function login(port: number, user: string, resource: string): Promise<RawClient> {
  return loadLogin(port, user, "pw", { resource });
}

/** Read everything a client receives, counting messages (the archive fill's recipients). */
function drainMessages(c: RawClient, onMessage: () => void): { stop: () => void } {
  let stopped = false;
  void (async () => {
    while (!stopped) {
      try {
        const el = await c.next(60_000);
        if (el.name === "message") onMessage();
      } catch {
        if (c.closed) return;
      }
    }
  })();
  return { stop: () => (stopped = true) };
}

/** `total` chat messages from `from` to the `to` clients in turn, at most `window` undelivered. */
async function sendWindowed(from: RawClient, to: RawClient[], total: number, window: number, body: (i: number) => string): Promise<void> {
  let delivered = 0;
  let wake: (() => void) | undefined;
  const drains = to.map((c) =>
    drainMessages(c, () => {
      delivered++;
      wake?.();
    }),
  );
  for (let i = 0; i < total; i++) {
    while (i - delivered >= window) await new Promise<void>((r) => (wake = r));
    const peer = to[i % to.length];
    from.send(`<message to='${peer.jid.split("/")[0]}' type='chat' id='m${i}'><body>${body(i)}</body></message>`);
  }
  while (delivered < total) await new Promise<void>((r) => (wake = r));
  for (const d of drains) d.stop();
}

/** Message throughput with archiving on: `pairs` sender/recipient pairs, `total` messages in all. */
async function throughput(port: number, total: number, pairs: number): Promise<number> {
  const senders: RawClient[] = [];
  const recipients: RawClient[] = [];
  for (let k = 0; k < pairs; k++) {
    senders.push(await login(port, `tp-a${k}`, "t"));
    const r = await login(port, `tp-b${k}`, "t");
    r.send("<presence/>");
    await r.next();
    recipients.push(r);
  }
  const per = Math.floor(total / pairs);
  const t0 = performance.now();
  await Promise.all(senders.map((s, k) => sendWindowed(s, [recipients[k]], per, 100, (i) => `throughput ${i}`)));
  const secs = (performance.now() - t0) / 1000;
  for (const c of [...senders, ...recipients]) c.close();
  return (per * pairs) / secs;
}

interface QueryTimes {
  firstPage: number[];
  lastPage: number[];
  withFilter: number[];
}

/** Collect the result messages of one query; the number of results. */
async function runQuery(c: RawClient, id: string, inner: string): Promise<number> {
  c.send(`<iq type='set' id='${id}'><query xmlns='urn:xmpp:mam:2' queryid='${id}'>${inner}</query></iq>`);
  let results = 0;
  for (;;) {
    const el = await c.next(120_000);
    if (el.name === "iq" && el.attrs.id === id) {
      if (el.attrs.type !== "result") throw new Error(`query failed: ${el}`);
      return results;
    }
    if (el.name === "message" && el.getChild("result", "urn:xmpp:mam:2")) results++;
  }
}

async function queries(port: number, n: number, page: number): Promise<QueryTimes> {
  const c = await login(port, OWNER, "q");
  const times: QueryTimes = { firstPage: [], lastPage: [], withFilter: [] };
  const form = `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field><field var='with'><value>peer2@${HOST}</value></field></x>`;
  const kinds: Array<[keyof QueryTimes, string]> = [
    ["firstPage", `<set xmlns='http://jabber.org/protocol/rsm'><max>${page}</max></set>`],
    ["lastPage", `<set xmlns='http://jabber.org/protocol/rsm'><max>${page}</max><before/></set>`],
    ["withFilter", `${form}<set xmlns='http://jabber.org/protocol/rsm'><max>${page}</max></set>`],
  ];
  let q = 0;
  for (let i = 0; i < n; i++) {
    for (const [kind, inner] of kinds) {
      const t0 = performance.now();
      const got = await runQuery(c, `q${++q}`, inner);
      times[kind].push(performance.now() - t0);
      if (got !== page) throw new Error(`${kind}: expected ${page} results, got ${got}`);
    }
  }
  c.close();
  return times;
}

const median = (xs: number[]): number => percentile(xs, 50);

interface Figures {
  fill: string;
  fillSecs: number;
  times: QueryTimes;
  throughput: number;
  rss?: number;
}

async function fillHeraldStore(dataDir: string, total: number): Promise<number> {
  // No fsync per item: a bulk load, made durable by close().
  const storage = new LevelStorage(join(dataDir, "herald.db"), { sync: false });
  await storage.open();
  const archive = storage.archive(HOST, "archive");
  const base = Date.now() - total * 1000; // one a second, ending now (well within archive_expires_after)
  const t0 = performance.now();
  let next = 0;
  // Many appends in flight: the driver commits them in groups.
  await Promise.all(
    Array.from({ length: 256 }, async () => {
      while (next < total) {
        const i = next++;
        const peer = `peer${i % PEERS}@${HOST}`;
        const msg = new Element("message", { to: peer, type: "chat", id: `m${i}`, from: `${OWNER}@${HOST}/fill`, "xml:lang": "en" }, [
          new Element("body", {}, [`archived message ${i}`]),
        ]);
        await archive.append(OWNER, elementToJson(msg), { when: base + i * 1000, with: peer });
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  await storage.close();
  return secs;
}

async function benchHerald(args: Args, work: string): Promise<Figures> {
  const dir = join(work, "herald");
  mkdirSync(dir, { recursive: true });
  const fillSecs = await fillHeraldStore(dir, args.messages);
  const port = await freePort();
  writeFileSync(
    join(dir, "herald.cfg.lua"),
    `data_path = ${JSON.stringify(dir)}
authentication = "insecure"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
interfaces = { "127.0.0.1" }
c2s_ports = { ${port} }
c2s_direct_tls_ports = { }
http_ports = { }
https_ports = { }
admin_socket = false
log = "warn"
modules_enabled = { "roster"; "disco"; "mam" }
VirtualHost "localhost"
`,
  );
  const proc = spawn(process.execPath, ["bin/herald", "start", "-c", join(dir, "herald.cfg.lua")], { stdio: ["ignore", "inherit", "inherit"] });
  try {
    await waitForPort(port);
    const times = await queries(port, args.queries, args.page);
    const tp = await throughput(port, args.throughput, args.pairs);
    return { fill: `${args.messages} via the store API`, fillSecs, times, throughput: tp, rss: rssMiB(proc.pid) };
  } finally {
    await stop(proc);
  }
}

async function benchProsody(args: Args, work: string): Promise<Figures> {
  const dir = join(work, "prosody");
  mkdirSync(join(dir, "data"), { recursive: true });
  mkdirSync(join(dir, "certs"), { recursive: true });
  const port = await freePort();
  writeFileSync(
    join(dir, "prosody.cfg.lua"),
    `data_path = "${dir}/data"
pidfile = "${dir}/prosody.pid"
run_as_root = true
log = { { levels = { min = "warn" }, to = "file", filename = "${dir}/prosody.log" } }
network_settings = { nagle = false }
certificates = "${dir}/certs"
authentication = "insecure"
insecure_open_authentication = "Yes please, I know what I'm doing!"
storage = "internal"
storage_archive_item_limit = ${args.prosodyFill * 2 + 100000}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
interfaces = { "127.0.0.1" }
c2s_ports = { ${port} }
c2s_direct_tls_ports = { }
s2s_ports = { }
component_ports = { }
http_ports = { }
https_ports = { }
modules_enabled = { "roster"; "saslauth"; "disco"; "mam"; "posix" }
modules_disabled = { "s2s"; "tls" }
max_archive_query_results = ${Math.max(50, args.page)}
VirtualHost "localhost"
`,
  );
  const started = spawnSync("prosody", ["--config", join(dir, "prosody.cfg.lua"), "-D"], { stdio: "inherit" });
  if (started.status !== 0) throw new Error("prosody did not start");
  const pid = () => {
    try {
      return Number(readFileSync(join(dir, "prosody.pid"), "utf8").trim());
    } catch {
      return undefined;
    }
  };
  try {
    await waitForPort(port);
    const owner = await login(port, OWNER, "fill");
    const peers: RawClient[] = [];
    for (let k = 0; k < PEERS; k++) {
      const p = await login(port, `peer${k}`, "fill");
      p.send("<presence/>");
      await p.next();
      peers.push(p);
    }
    const t0 = performance.now();
    await sendWindowed(owner, peers, args.prosodyFill, 200, (i) => `archived message ${i}`);
    const fillSecs = (performance.now() - t0) / 1000;
    for (const c of [owner, ...peers]) c.close();
    const times = await queries(port, args.queries, args.page);
    const tp = await throughput(port, args.throughput, args.pairs);
    return { fill: `${args.prosodyFill} via c2s`, fillSecs, times, throughput: tp, rss: rssMiB(pid()) };
  } finally {
    const p = pid();
    if (p) process.kill(p);
  }
}

function stop(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve();
    proc.once("exit", () => resolve());
    proc.kill("SIGTERM");
  });
}

function hasProsody(): boolean {
  return spawnSync("sh", ["-c", "command -v prosody"], { stdio: "ignore" }).status === 0;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const work = mkdtempSync(join(tmpdir(), "herald-mam-bench-"));
  try {
    const herald = await benchHerald(args, work);
    const prosody = args.prosody && hasProsody() ? await benchProsody(args, work) : undefined;
    const version = spawnSync("dpkg-query", ["-W", "-f=${Version}", "prosody"], { encoding: "utf8" }).stdout || "not installed";
    console.log(`node ${process.version}, prosody ${version}; ${args.queries} runs of each query, pages of ${args.page}; medians`);
    // [label, figure, unit, compare]: no ratio where the two figures measure different things.
    const rows: Array<[string, (f: Figures) => number | undefined, string, boolean]> = [
      ["first page (ms)", (f) => median(f.times.firstPage), "ms", true],
      ["last page, RSM <before/> (ms)", (f) => median(f.times.lastPage), "ms", true],
      ["`with` filter, first page (ms)", (f) => median(f.times.withFilter), "ms", true],
      [`messages/s with MAM on (${args.throughput}, ${args.pairs} pairs)`, (f) => f.throughput, "/s", true],
      ["archive fill (s; not comparable: store API vs c2s)", (f) => f.fillSecs, "s", false],
      ["server RSS after (MiB)", (f) => f.rss, "MiB", true],
    ];
    const fmt = (v: number | undefined) => (v === undefined ? "-" : v >= 100 ? v.toFixed(0) : v.toFixed(2));
    console.log(`| | Herald (${herald.fill}) | Prosody 0.12 (${prosody?.fill ?? "not run"}) | Prosody / Herald |`);
    console.log("|---|---|---|---|");
    for (const [label, get, , compare] of rows) {
      const h = get(herald);
      const p = prosody ? get(prosody) : undefined;
      const ratio = compare && h !== undefined && p !== undefined && h > 0 ? `${(p / h).toFixed(2)}x` : "-";
      console.log(`| ${label} | ${fmt(h)} | ${fmt(p)} | ${ratio} |`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
