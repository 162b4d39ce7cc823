// Memory of an idle Herald: RSS (and its anonymous / file-backed parts, from /proc) of `herald start`
// a few seconds after it started, with no client, against a bare `node` process measured the same
// way. Each figure is the median of --runs starts; the first start of a data directory (which makes
// the self-signed certificates) is measured apart. Prints a table; never fails on figures.
//
//   npm run build && node dist/test/bench/idle-rss.js [--runs 5] [--settle 3000] [--storage memory|internal]
//       [--node-args "--max-semi-space-size=1"]

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

async function measure(argv: string[], ready: (out: string) => boolean): Promise<Mem> {
  const child = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 30_000;
  while (!ready(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`did not start: ${out}`);
    await sleep(50);
  }
  await sleep(SETTLE);
  const m = memOf(child.pid!);
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
  return m;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const medianMem = (ms: Mem[]): Mem => ({ rss: median(ms.map((m) => m.rss)), anon: median(ms.map((m) => m.anon)), file: median(ms.map((m) => m.file)) });

const dir = mkdtempSync(join(tmpdir(), "herald-idle-rss-"));
try {
  const cfg = join(dir, "herald.cfg.lua");
  // The login benchmark's server (test/bench/run-logins.sh), with the listeners it has.
  writeFileSync(
    cfg,
    `data_path = ${JSON.stringify(join(dir, "data"))}
storage = "${STORAGE}"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = true
interfaces = { "127.0.0.1" }
c2s_ports = { 0 }
c2s_direct_tls_ports = { }
http_ports = { }
https_ports = { }
log = "info"
modules_enabled = { "roster"; "disco"; "ping"; "version"; "uptime"; "time"; "private"; "carbons"; "blocklist"; "register" }
VirtualHost "localhost"
`,
  );
  const herald = [...NODE_ARGS, join(ROOT, "bin/herald"), "start", "-c", cfg];
  const started = (out: string) => out.includes("started:");
  const first = await measure(herald, started);
  const runs: Mem[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await measure(herald, started));
  const bare: Mem[] = [];
  for (let i = 0; i < RUNS; i++) bare.push(await measure([...NODE_ARGS, "-e", "console.log('started:'); setInterval(() => {}, 1000)"], started));
  const h = medianMem(runs);
  const b = medianMem(bare);
  const f = (x: number) => x.toFixed(1);
  console.log(`idle RSS, MiB, median of ${RUNS} starts, ${SETTLE} ms after "started"; storage ${STORAGE}; node ${process.version}${NODE_ARGS.length ? " " + NODE_ARGS.join(" ") : ""}`);
  console.log("| process | RSS | anonymous | file-backed |");
  console.log("|---|---|---|---|");
  console.log(`| herald (data directory in place) | ${f(h.rss)} | ${f(h.anon)} | ${f(h.file)} |`);
  console.log(`| herald, first start (makes its certificates) | ${f(first.rss)} | ${f(first.anon)} | ${f(first.file)} |`);
  console.log(`| bare node | ${f(b.rss)} | ${f(b.anon)} | ${f(b.file)} |`);
  console.log(`| herald - bare node | ${f(h.rss - b.rss)} | ${f(h.anon - b.anon)} | ${f(h.file - b.file)} |`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
