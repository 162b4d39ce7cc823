// Memory of an idle Herald: RSS (and its anonymous / file-backed parts, from /proc) of `herald start`
// with no client, against a bare `node` process measured the same way, each twice: --settle ms after
// it started, and again --idle ms after it started (by then V8's memory reducer, which runs some
// seconds after a process stops allocating, has given back the young generation that start-up grew).
// Each figure is the median of --runs starts; the first start of a data directory (which makes the
// self-signed certificates) is measured apart. Prints a table; never fails on figures.
//
//   npm run build && node dist/test/bench/idle-rss.js [--runs 5] [--settle 3000] [--idle 30000]
//       [--storage memory|internal] [--node-args "--max-semi-space-size=1"]
//
// The processes are started one after the other (the next once the previous one has had its first
// measurement) and then wait side by side for their second: idle processes do not compete for the
// CPU, and a run takes about --idle plus 4 s per process instead of --idle per process.

import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../../..");
const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const RUNS = Number(opt("runs", "5"));
const SETTLE = Number(opt("settle", "3000"));
const IDLE = Number(opt("idle", "30000"));
const STORAGE = opt("storage", "memory");
const NODE_ARGS = opt("node-args", "").split(" ").filter(Boolean);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Mem {
  rss: number;
  anon: number;
  file: number;
}

function memOf(pid: number): Mem {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN) / 1024;
  return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") };
}

const started = (out: string) => out.includes("started:");
const children = new Set<ChildProcess>();

/** Start a process; once it has printed "started:", measure it at SETTLE; the promise it also returns measures it at IDLE and stops it. */
async function measure(argv: string[]): Promise<{ settled: Mem; idle: Promise<Mem> }> {
  const child = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 30_000;
  while (!started(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`did not start: ${out}`);
    await sleep(50);
  }
  const t0 = Date.now();
  await sleep(SETTLE);
  const settled = memOf(child.pid!);
  const idle = (async () => {
    await sleep(Math.max(0, IDLE - (Date.now() - t0)));
    if (child.exitCode !== null) throw new Error(`exited while idle: ${out}`);
    const m = memOf(child.pid!);
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
    children.delete(child);
    return m;
  })();
  idle.catch(() => {}); // reported where it is awaited
  return { settled, idle };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const medianMem = (ms: Mem[]): Mem => ({ rss: median(ms.map((m) => m.rss)), anon: median(ms.map((m) => m.anon)), file: median(ms.map((m) => m.file)) });

const dir = mkdtempSync(join(tmpdir(), "herald-idle-rss-"));
try {
  // The login benchmark's server (test/bench/run-logins.sh), with the listeners it has; every
  // listener on a port of its own (0), so that the servers measured side by side are alike whatever
  // else runs on the machine (5269, the default s2s port, may be taken).
  const config = (name: string) => {
    const cfg = join(dir, `${name}.cfg.lua`);
    writeFileSync(
      cfg,
      `data_path = ${JSON.stringify(join(dir, name))}
storage = "${STORAGE}"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = true
interfaces = { "127.0.0.1" }
c2s_ports = { 0 }
c2s_direct_tls_ports = { }
s2s_ports = { 0 }
http_ports = { }
https_ports = { }
log = "info"
modules_enabled = { "roster"; "disco"; "ping"; "version"; "uptime"; "time"; "private"; "carbons"; "blocklist"; "register" }
VirtualHost "localhost"
`,
    );
    return cfg;
  };
  const herald = (cfg: string) => [...NODE_ARGS, join(ROOT, "bin/herald"), "start", "-c", cfg];
  const bareArgs = [...NODE_ARGS, "-e", "console.log('started:'); setInterval(() => {}, 1000)"];

  const first = await measure(herald(config("first")));
  const runs: Array<Awaited<ReturnType<typeof measure>>> = [];
  for (let i = 0; i < RUNS; i++) {
    // A data directory in place: the certificates the first start made.
    mkdirSync(join(dir, `run${i}`));
    cpSync(join(dir, "first", "certs"), join(dir, `run${i}`, "certs"), { recursive: true });
    runs.push(await measure(herald(config(`run${i}`))));
  }
  const bare: Array<Awaited<ReturnType<typeof measure>>> = [];
  for (let i = 0; i < RUNS; i++) bare.push(await measure(bareArgs));

  const h = medianMem(runs.map((r) => r.settled));
  const b = medianMem(bare.map((r) => r.settled));
  const hi = medianMem(await Promise.all(runs.map((r) => r.idle)));
  const bi = medianMem(await Promise.all(bare.map((r) => r.idle)));
  const firstIdle = await first.idle;
  const f = (x: number) => x.toFixed(1);
  const cols = (a: Mem, z: Mem) => `${f(a.rss)} | ${f(a.anon)} | ${f(a.file)} | ${f(z.rss)} | ${f(z.anon)} | ${f(z.file)}`;
  const diff = (a: Mem, z: Mem): Mem => ({ rss: a.rss - z.rss, anon: a.anon - z.anon, file: a.file - z.file });
  const s = `${SETTLE / 1000} s`;
  const i = `${IDLE / 1000} s`;
  console.log(`idle RSS, MiB, median of ${RUNS} starts, ${s} and ${i} after "started"; storage ${STORAGE}; node ${process.version}${NODE_ARGS.length ? " " + NODE_ARGS.join(" ") : ""}`);
  console.log(`| process | RSS at ${s} | anonymous | file-backed | RSS at ${i} | anonymous | file-backed |`);
  console.log("|---|---|---|---|---|---|---|");
  console.log(`| herald (data directory in place) | ${cols(h, hi)} |`);
  console.log(`| herald, first start (makes its certificates) | ${cols(first.settled, firstIdle)} |`);
  console.log(`| bare node | ${cols(b, bi)} |`);
  console.log(`| herald - bare node | ${cols(diff(h, b), diff(hi, bi))} |`);
} finally {
  for (const c of children) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}
