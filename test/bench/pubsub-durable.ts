// Durable pubsub fan-out, Herald (memory store and LevelDB) against Debian's Prosody (memory store)
// and ejabberd (Mnesia) under the same load, in one run. Each server is a real child process on free
// loopback ports, all started first and up for the whole run; one load generator (this process)
// drives them over raw TCP: N subscribers, one publisher, a new node per run (created with
// pubsub#max_items), items of a fixed size published with a fixed number in flight. The runs go
// round the servers and variants: --warmup unmeasured rounds, then --runs measured ones, so each
// row has three consecutive runs of its own and a slow spell of the machine lands on every row
// alike. Prints one table: notifications per second for each run, publish -> notify latency
// p50/p99 over the runs, and the ratios the issue asks for. A benchmark: it prints figures and
// never fails on them.
//
//   npm run build && node dist/test/bench/pubsub-durable.js [--subscribers 100] [--items 2000]
//       [--size 64] [--inflight 32] [--runs 3] [--variants 100,10000,prefill] [--prefill 1000000]
//       [--servers herald-memory,herald-leveldb,prosody,ejabberd] [--unloaded 1000] [--warmup 1]
//
// Variants: "100" and "10000" are the node's max_items; "prefill" is max_items 100 on a LevelDB
// database that already holds --prefill items in other nodes (written through the store API before
// its own server starts; for the memory stores it is the same as "100" and is not run again). The
// "100" and "10000" rows of a server are driven on one server process, on nodes of their own.
// "unloaded" latency: --unloaded publishes, one at a time, on a fresh node after the runs.

import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { freePort, loadLogin, percentile, register, waitForPort as waitForListener } from "./lib.js";
import { LevelStorage } from "../../src/storage/leveldb.js";
import { HeraldPubsubStore, STORE_NAMES } from "../../modules/lib/pubsub/store.js";
import { Element } from "../../src/xml/stanza.js";
import { makePrivateDir } from "../../src/util/file-modes.js";

type ServerKind = "herald-memory" | "herald-leveldb" | "prosody" | "ejabberd";
type Variant = "100" | "10000" | "prefill";

interface Options {
  subscribers: number;
  items: number;
  size: number;
  inflight: number;
  runs: number;
  variants: Variant[];
  prefill: number;
  servers: ServerKind[];
  unloaded: number;
  warmup: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    subscribers: 100,
    items: 2000,
    size: 64,
    inflight: 32,
    runs: 3,
    variants: ["100", "10000", "prefill"],
    prefill: 1_000_000,
    servers: ["herald-memory", "herald-leveldb", "prosody", "ejabberd"],
    unloaded: 1000,
    warmup: 1,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i].replace(/^--/, ""), argv[i + 1]];
    if (k === "variants") o.variants = v.split(",") as Variant[];
    else if (k === "servers") o.servers = v.split(",") as ServerKind[];
    else if (k in o) (o as unknown as Record<string, number>)[k] = Number(v);
    else throw new Error(`unknown option --${k}`);
  }
  return o;
}

const ROOT = resolve(import.meta.dirname, "../../..");
const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
const PUBLISHER = "admin";

function waitForPort(port: number, child: ChildProcess | undefined, what: string): Promise<void> {
  return waitForListener(port, { child, what, timeoutMs: 60_000 });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Servers

interface Running {
  kind: ServerKind;
  port: number;
  stop(): Promise<void>;
}

async function startHerald(kind: ServerKind, dir: string, dataPath: string): Promise<Running> {
  const port = await freePort();
  const cfg = join(dir, "herald.cfg.lua");
  writeFileSync(
    cfg,
    `data_path = ${JSON.stringify(dataPath)}
authentication = "insecure"
storage = ${kind === "herald-memory" ? '"memory"' : '"internal"'}
admins = { "${PUBLISHER}@localhost" }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
interfaces = { "127.0.0.1" }
c2s_max_unauthenticated_per_ip = 100000 -- every load client connects from 127.0.0.1
limit_auth_max = 100000 -- nor does the per-address login throttle apply (Prosody and ejabberd have none)
limit_auth_period = 1
c2s_ports = { ${port} }
c2s_direct_tls_ports = { }
http_ports = { }
https_ports = { }
log = "warn"
modules_enabled = { "roster"; "disco"; "ping" }
VirtualHost "localhost"
Component "pubsub.localhost" "pubsub"
  pubsub_max_items = 10000
`,
  );
  const child = spawn(process.execPath, [...(process.env.HERALD_NODE_ARGS?.split(" ").filter(Boolean) ?? []), join(ROOT, "bin/herald"), "start", "-c", cfg], {
    cwd: dir,
    stdio: ["ignore", "inherit", "inherit"],
  });
  await waitForPort(port, child, kind);
  return {
    kind,
    port,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, sleep(20_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

async function startProsody(dir: string): Promise<Running | undefined> {
  const which = spawn("sh", ["-c", "command -v prosody"], { stdio: "pipe" });
  const found = await new Promise<boolean>((r) => which.once("exit", (code) => r(code === 0)));
  if (!found) return undefined;
  const port = await freePort();
  const ref = "/work/shared/prosody-reference/prosody.cfg.lua.in";
  const shared = existsSync(ref) ? ref : join(ROOT, "../shared/prosody-reference/prosody.cfg.lua.in");
  let cfg = readFileSync(shared, "utf8").replaceAll("@DIR@", dir).replaceAll("@PORT@", String(port));
  cfg = cfg.replace('admins = { "admin@localhost" }', `admins = { "${PUBLISHER}@localhost" }`);
  cfg = cfg.replace(/log = .*\n/, `log = { { levels = { min = "warn" }, to = "file", filename = "${dir}/prosody.log" } }\n`);
  // Prosody's memory archives hold 1000 items per archive unless told otherwise.
  cfg = cfg.replace('storage = "memory"\n', 'storage = "memory"\nstorage_archive_item_limit = 20000\n');
  cfg += "\tpubsub_max_items = 10000\n";
  writeFileSync(join(dir, "prosody.cfg.lua"), cfg);
  const child = spawn("prosody", ["--config", join(dir, "prosody.cfg.lua"), "-F"], { stdio: ["ignore", "ignore", "inherit"] });
  await waitForPort(port, child, "prosody");
  return {
    kind: "prosody",
    port,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, sleep(10_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

/**
 * Debian's ejabberd (when installed): its own node name, config, spool and logs in `dir` (owned by
 * the ejabberd user it runs as), c2s without TLS, in-band registration open (the load generator
 * registers its accounts), mod_pubsub on pubsub.localhost with Mnesia, nodes up to 10,000 items.
 */
async function startEjabberd(dir: string): Promise<Running | undefined> {
  const which = spawn("sh", ["-c", "command -v ejabberdctl"], { stdio: "pipe" });
  const found = await new Promise<boolean>((r) => which.once("exit", (code) => r(code === 0)));
  if (!found) return undefined;
  const port = await freePort();
  const ej = join(dir, "ejabberd");
  for (const d of ["spool", "logs"]) mkdirSync(join(ej, d), { recursive: true });
  writeFileSync(
    join(ej, "ejabberd.yml"),
    `hosts: ["localhost"]
loglevel: warning
listen:
  - port: ${port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: false
    max_stanza_size: 1048576
    backlog: 1024
auth_method: internal
registration_timeout: infinity
acl:
  admin:
    user: "${PUBLISHER}@localhost"
access_rules:
  register:
    allow: all
  c2s:
    allow: all
  pubsub_createnode:
    allow: all
shaper_rules: {}
modules:
  mod_register:
    access: register
    ip_access: all
  mod_roster: {}
  mod_disco: {}
  mod_ping: {}
  mod_pubsub:
    host: "pubsub.localhost"
    access_createnode: pubsub_createnode
    max_items_node: 10000
    plugins: ["flat"]
`,
  );
  writeFileSync(join(ej, "ejabberdctl.cfg"), 'ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"\n');
  chmodSync(dir, 0o755);
  execFileSync("chown", ["-R", "ejabberd", ej]);
  const node = `herald_pubsub_bench_${process.pid}@localhost`;
  const ctl = (...a: string[]) =>
    spawn("ejabberdctl", ["--node", node, "--ctl-config", join(ej, "ejabberdctl.cfg"), "--config", join(ej, "ejabberd.yml"), "--spool", join(ej, "spool"), "--logs", join(ej, "logs"), ...a], {
      stdio: ["ignore", "ignore", "inherit"],
    });
  await new Promise((r) => ctl("start").once("exit", r));
  await waitForPort(port, undefined, "ejabberd");
  await sleep(1000);
  // The accounts the load generator logs in with.
  const users = [PUBLISHER, ...Array.from({ length: registerCount }, (_, i) => `sub${i}`)];
  for (let i = 0; i < users.length; i += 20) await Promise.all(users.slice(i, i + 20).map((u) => register(port, u)));
  return {
    kind: "ejabberd",
    port,
    stop: async () => {
      await new Promise((r) => ctl("stop").once("exit", r));
      await sleep(1000);
    },
  };
}

/** Subscribers the load generator registers on servers that need accounts (set from --subscribers). */
let registerCount = 0;

/** Write `count` items into nodes of the pubsub component's stores, as Herald's store would. */
async function prefill(dataPath: string, count: number): Promise<number> {
  const t0 = performance.now();
  const storage = new LevelStorage(join(dataPath, "herald.db"), { sync: false });
  await storage.open();
  const host = "pubsub.localhost";
  const store = new HeraldPubsubStore({
    nodes: storage.keyval(host, STORE_NAMES.nodes),
    subscriptions: storage.map(host, STORE_NAMES.subscriptions),
    items: storage.archive(host, STORE_NAMES.items),
  });
  const nodes = 20;
  const payload = new Element("entry", { xmlns: "urn:herald:bench" }, ["x".repeat(64)]);
  const perNode = Math.ceil(count / nodes);
  await Promise.all(
    Array.from({ length: nodes }, async (_, n) => {
      for (let i = 0; i < perNode && n * perNode + i < count; i++) {
        await store.appendItem(`prefill-${n}`, { id: `f${i}`, publisher: `${PUBLISHER}@localhost`, published: Date.now(), payload });
      }
    }),
  );
  // A database that has held its million items a while is compacted; one written a moment ago is
  // still compacting when the server opens it (measured: the first run then at 0.4 of the third).
  const db = (storage as unknown as { db: { compactRange?: (start: string, end: string) => Promise<void> } }).db;
  await db.compactRange?.("", "\uffff");
  await storage.close();
  // And on disk: the kernel's writeback of the fill would otherwise go on under the measured runs,
  // slowing their fsyncs (a database that has held its items a while has long been written back).
  execFileSync("sync");
  return (performance.now() - t0) / 1000;
}

// ---------------------------------------------------------------------------------------------
// Load generator

/** One client connection read by a tag scanner instead of an XML parser (cheap for the generator). */
class Conn {
  private tail = "";
  private readonly iqWaiters = new Map<string, (type: string) => void>();
  /** Called for each notification item id seen. */
  onItem?: (id: string, at: number) => void;

  constructor(
    readonly socket: Socket,
    readonly jid: string,
  ) {
    socket.removeAllListeners("data");
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk.toString("latin1")));
  }

  static async login(port: number, user: string): Promise<Conn> {
    const c = await loadLogin(port, user, "pw", { resource: "bench" });
    return new Conn(c.socket as Socket, c.jid);
  }

  private onData(text: string): void {
    const now = performance.now();
    const s = this.tail + text;
    let end = 0;
    for (const m of s.matchAll(/<(iq|item)\b[^>]*>/g)) {
      end = m.index + m[0].length;
      const tag = m[0];
      const id = /\sid=["']([^"']*)["']/.exec(tag)?.[1];
      if (id === undefined) continue;
      if (m[1] === "iq") {
        const type = /\stype=["']([^"']*)["']/.exec(tag)?.[1] ?? "";
        const w = this.iqWaiters.get(id);
        if (w && (type === "result" || type === "error")) {
          this.iqWaiters.delete(id);
          w(type);
        }
      } else if (id.startsWith("q")) this.onItem?.(id, now);
    }
    const rest = s.slice(end);
    const lt = rest.lastIndexOf("<");
    this.tail = lt >= 0 && rest.indexOf(">", lt) < 0 ? rest.slice(lt) : "";
  }

  /** Send an iq; resolves with the type of its answer ("result" / "error"). */
  iq(id: string, xml: string): Promise<string> {
    return new Promise((ok) => {
      this.iqWaiters.set(id, ok);
      this.socket.write(xml);
    });
  }

  close(): void {
    this.socket.end("</stream:stream>");
  }
}

interface RunResult {
  rate: number; // notifications per second
  latencies: Float64Array; // publish sent -> notification read, ms
  missing: number;
  errors: number;
}

const createIq = (node: string, maxItems: number) =>
  `<iq type='set' to='pubsub.localhost' id='c-${node}'><pubsub xmlns='${NS_PUBSUB}'><create node='${node}'/><configure><x xmlns='jabber:x:data' type='submit'>` +
  `<field var='FORM_TYPE' type='hidden'><value>${NS_PUBSUB}#node_config</value></field>` +
  `<field var='pubsub#max_items'><value>${maxItems}</value></field></x></configure></pubsub></iq>`;

async function runOnce(pub: Conn, subs: Conn[], node: string, maxItems: number, items: number, inflight: number, size: number): Promise<RunResult> {
  if ((await pub.iq(`c-${node}`, createIq(node, maxItems))) !== "result") throw new Error(`creating ${node} failed`);
  await Promise.all(
    subs.map(async (c, i) => {
      const r = await c.iq(`s-${node}-${i}`, `<iq type='set' to='pubsub.localhost' id='s-${node}-${i}'><pubsub xmlns='${NS_PUBSUB}'><subscribe node='${node}' jid='${c.jid}'/></pubsub></iq>`);
      if (r !== "result") throw new Error(`subscribing to ${node} failed`);
    }),
  );
  const tag = node.replace(/[^0-9a-z]/g, "");
  const sentAt = new Float64Array(items);
  const expected = subs.length * items;
  const latencies = new Float64Array(expected);
  let received = 0;
  let lastAt = 0;
  let done: () => void = () => {};
  const allIn = new Promise<void>((r) => (done = r));
  const prefix = `q${tag}_`;
  for (const c of subs) {
    c.onItem = (id, at) => {
      if (!id.startsWith(prefix)) return;
      const k = Number(id.slice(prefix.length));
      latencies[received++] = at - sentAt[k];
      lastAt = at;
      if (received === expected) done();
    };
  }
  const filler = "x".repeat(Math.max(0, size - 29));
  let next = 0;
  let errors = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(inflight, items) }, async () => {
      while (next < items) {
        const k = next++;
        sentAt[k] = performance.now();
        const id = `p${tag}-${k}`;
        const type = await pub.iq(
          id,
          `<iq type='set' to='pubsub.localhost' id='${id}'><pubsub xmlns='${NS_PUBSUB}'><publish node='${node}'><item id='${prefix}${k}'><x xmlns='urn:herald:bench'>${filler}</x></item></publish></pubsub></iq>`,
        );
        if (type !== "result") errors++;
      }
    }),
  );
  // Every notification, or none more for 10 s.
  let lastCount = -1;
  while (received < expected && received !== lastCount) {
    lastCount = received;
    await Promise.race([allIn, sleep(10_000)]);
  }
  for (const c of subs) c.onItem = undefined;
  const got = latencies.subarray(0, received);
  return { rate: received / ((lastAt - start) / 1000), latencies: got, missing: expected - received, errors };
}

interface Row {
  server: ServerKind;
  variant: Variant;
  rates: number[];
  p50: number;
  p99: number;
  missing: number;
  errors: number;
  unloadedP50?: number;
  unloadedP99?: number;
}

/** One row of the table: a running server, its logged-in clients and the variant driven on it. */
interface Target {
  server: Running;
  variant: Variant;
  maxItems: number;
  pub: Conn;
  subs: Conn[];
  row: Row;
  all: Float64Array[];
}

async function loginAll(server: Running, o: Options): Promise<{ pub: Conn; subs: Conn[] }> {
  const pub = await Conn.login(server.port, PUBLISHER);
  const subs: Conn[] = [];
  for (let i = 0; i < o.subscribers; i += 25) {
    subs.push(...(await Promise.all(Array.from({ length: Math.min(25, o.subscribers - i) }, (_, k) => Conn.login(server.port, `sub${i + k}`)))));
  }
  return { pub, subs };
}

function describe(t: Target): string {
  return `${t.server.kind} max_items=${t.maxItems}${t.variant === "prefill" ? " prefilled" : ""}`;
}

/**
 * Drive every target in turn, round after round: --warmup unmeasured rounds (each server's JIT and
 * the load generator's own reach their steady state), then --runs measured ones, then the unloaded
 * latency of each. Interleaving the servers' runs means a slow spell of the machine (another
 * process, the kernel's writeback) lands on all of them alike instead of on whichever ran then.
 */
async function measureAll(targets: Target[], o: Options, serial: { n: number }): Promise<void> {
  for (let r = 0; r < o.warmup + o.runs; r++) {
    const warm = r < o.warmup;
    for (const t of targets) {
      const res = await runOnce(t.pub, t.subs, `bench${++serial.n}`, t.maxItems, o.items, o.inflight, o.size);
      const what = warm ? `warm-up ${r + 1}` : `run ${r - o.warmup + 1}`;
      console.error(
        `  ${describe(t)} ${what}: ${res.rate.toFixed(0)} notifications/s, p50 ${percentile(res.latencies, 50).toFixed(1)} ms, p99 ${percentile(res.latencies, 99).toFixed(1)} ms${res.missing ? `, ${res.missing} missing` : ""}${res.errors ? `, ${res.errors} errors` : ""}`,
      );
      // A warm-up's losses and errors count too: they are the server's, measured or not.
      t.row.missing += res.missing;
      t.row.errors += res.errors;
      if (warm) continue;
      t.row.rates.push(res.rate);
      t.all.push(res.latencies);
    }
  }
  for (const t of targets) {
    const merged = new Float64Array(t.all.reduce((n, a) => n + a.length, 0));
    let off = 0;
    for (const a of t.all) {
      merged.set(a, off);
      off += a.length;
    }
    t.row.p50 = percentile(merged, 50);
    t.row.p99 = percentile(merged, 99);
    if (o.unloaded > 0) {
      const u = await runOnce(t.pub, t.subs, `bench${++serial.n}`, t.maxItems, o.unloaded, 1, o.size);
      t.row.unloadedP50 = percentile(u.latencies, 50);
      t.row.unloadedP99 = percentile(u.latencies, 99);
    }
  }
}

// ---------------------------------------------------------------------------------------------

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const k = (n: number) => `${(n / 1000).toFixed(1)}k`;

function printTable(rows: Row[], o: Options, notes: string[]): void {
  const memory = (v: Variant) => rows.find((r) => r.server === "herald-memory" && r.variant === (v === "prefill" ? "100" : v));
  const prosody = (v: Variant) => rows.find((r) => r.server === "prosody" && r.variant === (v === "prefill" ? "100" : v));
  const ejabberd = (v: Variant) => rows.find((r) => r.server === "ejabberd" && r.variant === (v === "prefill" ? "100" : v));
  console.log(
    `\npubsub fan-out: ${o.subscribers} subscribers, 1 publisher, ${o.items} items of ${o.size} bytes, ${o.inflight} in flight, ${o.runs} measured runs per row (a new node each) after ${o.warmup} unmeasured warm-up round${o.warmup === 1 ? "" : "s"}, the rows' runs interleaved, node ${process.version}`,
  );
  for (const n of notes) console.log(n);
  console.log("");
  const head = [
    "server",
    "max_items",
    "notifications/s per run",
    "p50 ms",
    "p99 ms",
    "unloaded p50/p99 ms",
    "last/first",
    "vs memory",
    "vs prosody",
    "vs ejabberd",
    "p99 / ejabberd's",
    "unloaded p99 / memory's",
  ];
  const lines: string[][] = [head];
  for (const r of rows) {
    const m = memory(r.variant);
    const p = prosody(r.variant);
    const e = ejabberd(r.variant);
    lines.push([
      r.server,
      r.variant === "prefill" ? `100, ${o.prefill.toLocaleString("en")} items in db` : r.variant,
      r.rates.map(k).join(" / ") + (r.missing || r.errors ? ` (${r.missing} missing, ${r.errors} errors)` : ""),
      r.p50.toFixed(1),
      r.p99.toFixed(1),
      r.unloadedP50 === undefined ? "" : `${r.unloadedP50.toFixed(1)} / ${r.unloadedP99!.toFixed(1)}`,
      (r.rates[r.rates.length - 1] / r.rates[0]).toFixed(2),
      m ? (mean(r.rates) / mean(m.rates)).toFixed(2) : "",
      p ? (mean(r.rates) / mean(p.rates)).toFixed(2) : "",
      e ? (mean(r.rates) / mean(e.rates)).toFixed(2) : "",
      e ? (r.p99 / e.p99).toFixed(2) : "",
      m && m.unloadedP99 !== undefined && r.unloadedP99 !== undefined ? (r.unloadedP99 / m.unloadedP99).toFixed(2) : "",
    ]);
  }
  const widths = head.map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  const fmt = (l: string[]) => "| " + l.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  console.log(fmt(lines[0]));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const l of lines.slice(1)) console.log(fmt(l));
  console.log(
    "\nratios: mean notifications/s of the row over the mean of Herald's memory store (resp. Prosody's, ejabberd's) with the same max_items; last/first: the last run over the first; p99 / ejabberd's: the row's loaded p99 over ejabberd's; unloaded p99 / memory's: over Herald's memory store's.",
  );
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  registerCount = o.subscribers;
  const notes: string[] = [];
  const serial = { n: 0 };
  const dirs: string[] = [];
  const servers: Running[] = [];
  const targets: Target[] = [];
  try {
    // Every server is started first and stays up for the whole run (an idle server costs nothing).
    for (const kind of o.servers) {
      const plain = o.variants.filter((v) => v !== "prefill");
      const sets: Variant[][] = [plain];
      if (kind === "herald-leveldb" && o.variants.includes("prefill")) sets.push(["prefill"]);
      for (const variants of sets) {
        if (variants.length === 0) continue;
        const dir = mkdtempSync(join(tmpdir(), `herald-bench-${kind}-`));
        dirs.push(dir);
        let server: Running | undefined;
        if (kind === "prosody") {
          server = await startProsody(dir);
          if (!server) notes.push("prosody: not installed (apt-get install -y prosody), not measured");
        } else if (kind === "ejabberd") {
          server = await startEjabberd(dir);
          if (!server) notes.push("ejabberd: not installed (apt-get install -y ejabberd), not measured");
        } else {
          const dataPath = join(dir, "data");
          if (variants[0] === "prefill") {
            console.error(`  prefilling ${o.prefill} items ...`);
            makePrivateDir(dataPath);
            const secs = await prefill(dataPath, o.prefill);
            notes.push(`prefill: ${o.prefill.toLocaleString("en")} items in 20 other nodes, written through the store API, compacted and synced to disk in ${secs.toFixed(0)} s before its server started`);
          }
          server = await startHerald(kind, dir, dataPath);
        }
        if (!server) continue;
        servers.push(server);
        const { pub, subs } = await loginAll(server, o);
        for (const variant of variants) {
          const row: Row = { server: kind, variant, rates: [], p50: 0, p99: 0, missing: 0, errors: 0 };
          targets.push({ server, variant, maxItems: variant === "10000" ? 10000 : 100, pub, subs, row, all: [] });
        }
      }
    }
    await measureAll(targets, o, serial);
  } finally {
    for (const c of new Set(targets.flatMap((t) => [t.pub, ...t.subs]))) c.close();
    await sleep(200);
    for (const s of servers) await s.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
  printTable(
    targets.map((t) => t.row),
    o,
    notes,
  );
}

await main();
