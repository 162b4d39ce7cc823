// Foreign XMPP servers for federation tests: Debian's Prosody or ejabberd, started once per test file
// in a temporary directory, with their own domains and configuration, listening for s2s on a
// loopback address of their own (127.A.B.3; Herald takes 127.A.B.2, A and B random so that
// test files and engineers running tests at the same time do not meet), and for clients on
// 127.0.0.1 at a free port.
//
// Name resolution, without a DNS server: Prosody finds Herald's domains in a hosts file of its own
// (libunbound's `hoststxt`); ejabberd (getaddrinfo) and Herald find theirs in /etc/hosts, where the
// entries are added by the test and always removed again (also when the process exits). Only the
// lines a process added (marked with its pid) are removed.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { appendFileSync, chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { RawClient } from "../helpers/xmpp-client.js";
import { freePort } from "./helpers.js";
import { waitForPort } from "../helpers/ports.js";

export type PeerKind = "prosody" | "ejabberd";

export interface CertFiles {
  cert: string;
  key: string;
  /** Certificate followed by its key, in one file (ejabberd's `certfiles`). */
  combined: string;
}

/** Write a certificate and its key (PEM) as the files a foreign server reads. */
export function writeCertFiles(dir: string, name: string, pem: { cert: string; key: string }): CertFiles {
  mkdirSync(dir, { recursive: true });
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`), combined: join(dir, `${name}.pem`) };
  writeFileSync(files.cert, pem.cert);
  writeFileSync(files.key, pem.key, { mode: 0o600 });
  writeFileSync(files.combined, pem.cert + pem.key, { mode: 0o600 });
  return files;
}

export interface PeerDomain {
  /** The VirtualHost; it also gets a pubsub component at pubsub.<name>. */
  name: string;
  cert: CertFiles;
}

export interface PeerOptions {
  dir: string;
  /** The loopback address its s2s listener binds (port 5269, as SRV-less federation requires). */
  address: string;
  domains: PeerDomain[];
  /** A CA certificate the server trusts for s2s, besides the system's. */
  caFile?: string;
  /** Names the foreign server resolves to addresses (Herald's domains). */
  resolve: Record<string, string>;
  /**
   * Domains whose servers must authenticate with a certificate (Prosody's s2s_secure_domains: no
   * dialback for them). ejabberd has no such option; it uses SASL EXTERNAL whenever the peer's
   * certificate is valid, dialback otherwise.
   */
  secureDomains?: string[];
  /** Accounts created on every domain: username -> password. */
  users: Record<string, string>;
}

export interface PeerServer {
  kind: PeerKind;
  c2sPort: number;
  /** Its log so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/** Why a kind of foreign server cannot run here (then tests skip with this message), or undefined. */
export function peerMissing(kind: PeerKind): string | undefined {
  const bin = kind === "prosody" ? "prosody" : "ejabberdctl";
  const found = spawnSync("sh", ["-c", `command -v ${bin}`], { encoding: "utf8" }).status === 0;
  if (!found) return `${bin} is not installed (apt-get install -y ${kind}; .ci/run installs it): ${kind} interop tests skipped`;
  if (spawnSync("sh", ["-c", "command -v openssl"]).status !== 0) return "openssl is not installed: interop tests skipped";
  return undefined;
}

/** Two loopback addresses in a random 127.A.B.0/24: [Herald's, the foreign server's]. */
export function loopbackPair(): [string, string] {
  const a = 10 + Math.floor(Math.random() * 240);
  const b = 1 + Math.floor(Math.random() * 250);
  return [`127.${a}.${b}.2`, `127.${a}.${b}.3`];
}

const HOSTS_FILE = "/etc/hosts";
const HOSTS_MARK = `# herald-test ${process.pid}`;
let hostsCalls = 0;
let hostsCleanupInstalled = false;

const HOSTS_LOCK = "/etc/hosts.herald-test.lock";

/** Edit /etc/hosts under a lock file, so that test processes editing it at once do not lose each other's lines. */
function withHostsLock(fn: () => void): void {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      closeSync(openSync(HOSTS_LOCK, "wx"));
      break;
    } catch {
      // A lock older than 10 s was left by a process that died: take it over.
      try {
        if (Date.now() - statSync(HOSTS_LOCK).mtimeMs > 10_000) unlinkSync(HOSTS_LOCK);
      } catch {
        /* gone meanwhile */
      }
      if (Date.now() > deadline) throw new Error(`${HOSTS_LOCK} is held by another process`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  try {
    fn();
  } finally {
    try {
      unlinkSync(HOSTS_LOCK);
    } catch {
      /* already removed */
    }
  }
}

function removeHostsLines(matches: (line: string) => boolean): void {
  withHostsLock(() => {
    const lines = readFileSync(HOSTS_FILE, "utf8").split("\n");
    const kept = lines.filter((l) => !matches(l));
    if (kept.length !== lines.length) writeFileSync(HOSTS_FILE, kept.join("\n"));
  });
}

/** Add `address names...` lines to /etc/hosts; the returned function (or else the process's exit) removes them. */
export function addHostsEntries(entries: Record<string, string>): () => void {
  if (!hostsCleanupInstalled) {
    hostsCleanupInstalled = true;
    process.once("exit", () => removeHostsLines((l) => l.includes(`${HOSTS_MARK}.`)));
  }
  const mark = `${HOSTS_MARK}.${++hostsCalls}`;
  const byAddress = new Map<string, string[]>();
  for (const [name, address] of Object.entries(entries)) byAddress.set(address, [...(byAddress.get(address) ?? []), name]);
  let text = "";
  for (const [address, names] of byAddress) text += `${address} ${names.join(" ")} ${mark}\n`;
  withHostsLock(() => {
    const current = readFileSync(HOSTS_FILE, "utf8");
    appendFileSync(HOSTS_FILE, (current.endsWith("\n") || current === "" ? "" : "\n") + text);
  });
  return () => removeHostsLines((l) => l.endsWith(mark));
}

function readIf(path: string): string {
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}

/** Kill a process group we started and wait for its leader. */
async function stopGroup(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    /* gone */
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      /* gone */
    }
  }, 5000);
  await exited;
  clearTimeout(timer);
}

/** The Erlang VM running `node` (found in /proc by its -sname), stopped with SIGTERM (SIGKILL after 10 s). */
async function stopErlangNode(node: string): Promise<void> {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (args.some((a) => a.endsWith("beam.smp")) && args.includes(node)) pids.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  };
  for (const pid of pids) signal(pid, "SIGTERM");
  const deadline = Date.now() + 10_000;
  while (pids.some((pid) => existsSync(`/proc/${pid}`))) {
    if (Date.now() > deadline) {
      for (const pid of pids) signal(pid, "SIGKILL");
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------- Prosody

function prosodyConfig(o: PeerOptions, c2sPort: number): string {
  const ssl = (cert: CertFiles) => `ssl = { certificate = ${JSON.stringify(cert.cert)}; key = ${JSON.stringify(cert.key)} }`;
  const hosts = o.domains
    .map(
      (d) => `VirtualHost ${JSON.stringify(d.name)}
  ${ssl(d.cert)}
Component ${JSON.stringify(`pubsub.${d.name}`)} "pubsub"
  ${ssl(d.cert)}
  -- Prosody lets only the service's admins create nodes: every test account may.
  admins = { ${Object.keys(o.users).map((u) => JSON.stringify(`${u}@${d.name}`)).join("; ")} }
`,
    )
    .join("");
  return `-- A Prosody for Herald's federation tests.
data_path = ${JSON.stringify(join(o.dir, "data"))}
pidfile = ${JSON.stringify(join(o.dir, "prosody.pid"))}
run_as_root = true
log = { { levels = { min = "debug" }, to = "file", filename = ${JSON.stringify(join(o.dir, "prosody.log"))} } }
admin_socket = ${JSON.stringify(join(o.dir, "prosody.sock"))}
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
c2s_interfaces = { "127.0.0.1" }
c2s_ports = { ${c2sPort} }
c2s_direct_tls_ports = { }
s2s_interfaces = { ${JSON.stringify(o.address)} }
s2s_ports = { 5269 }
s2s_direct_tls_ports = { }
component_ports = { }
http_ports = { }
https_ports = { }
s2s_require_encryption = true
s2s_secure_auth = false
s2s_secure_domains = { ${(o.secureDomains ?? []).map((x) => JSON.stringify(x)).join("; ")} }
${o.caFile ? `ssl = { cafile = ${JSON.stringify(o.caFile)} }` : ""}
unbound = { hoststxt = ${JSON.stringify(join(o.dir, "hosts"))} }
modules_enabled = { "roster"; "saslauth"; "tls"; "dialback"; "disco"; "ping"; "pep"; "offline"; "register"; "admin_shell" }
allow_registration = true
${hosts}`;
}

export async function startProsody(o: PeerOptions): Promise<PeerServer> {
  mkdirSync(join(o.dir, "data"), { recursive: true });
  writeFileSync(join(o.dir, "hosts"), Object.entries(o.resolve).map(([n, a]) => `${a} ${n}\n`).join(""));
  const c2sPort = await freePort("127.0.0.1");
  const cfg = join(o.dir, "prosody.cfg.lua");
  writeFileSync(cfg, prosodyConfig(o, c2sPort));
  const child = spawn("prosody", ["--config", cfg, "-F"], { stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const log = () => `${out}${readIf(join(o.dir, "prosody.log"))}`;
  try {
    await waitForPort(c2sPort, { host: "127.0.0.1", child, timeoutMs: 30000 });
    await waitForPort(5269, { host: o.address, child, timeoutMs: 10000 });
    await registerAccounts(c2sPort, o);
  } catch (err) {
    await stopGroup(child, exited);
    throw new Error(`Prosody did not start: ${(err as Error).message}\n${log().slice(-4000)}`);
  }
  return { kind: "prosody", c2sPort, log, stop: () => stopGroup(child, exited) };
}

// ---------------------------------------------------------------- ejabberd

function ejabberdConfig(o: PeerOptions, c2sPort: number): string {
  const q = (s: string) => JSON.stringify(s);
  return `# An ejabberd for Herald's federation tests.
hosts: [${o.domains.map((d) => q(d.name)).join(", ")}]
loglevel: debug
certfiles: [${o.domains.map((d) => q(d.cert.combined)).join(", ")}]
${o.caFile ? `s2s_cafile: ${q(o.caFile)}` : ""}
s2s_use_starttls: required
listen:
  - port: ${c2sPort}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: false
  - port: 5269
    ip: ${q(o.address)}
    module: ejabberd_s2s_in
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  s2s:
    allow: all
  pubsub_createnode:
    allow: local
  register:
    allow: all
registration_timeout: infinity
modules:
  mod_caps: {}
  mod_disco: {}
  mod_ping: {}
  mod_roster: {}
  mod_offline: {}
  mod_s2s_dialback: {}
  mod_register:
    access: register
    ip_access: all
  mod_pubsub:
    host: "pubsub.@HOST@"
    access_createnode: pubsub_createnode
    plugins: ["flat", "pep"]
    max_items_node: 10
`;
}

/** A system user's uid and gid, read from /etc/passwd; throws when there is no such user. */
function systemUser(name: string): { uid: number; gid: number } {
  for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
    const f = line.split(":");
    if (f[0] === name && f.length >= 4) {
      const uid = Number(f[2]);
      const gid = Number(f[3]);
      if (Number.isInteger(uid) && uid > 0 && Number.isInteger(gid)) return { uid, gid };
    }
  }
  throw new Error(`no system user ${name} in /etc/passwd`);
}

export async function startEjabberd(o: PeerOptions): Promise<PeerServer> {
  // ejabberd runs as its own user: everything it writes is under dirs it owns.
  const spool = join(o.dir, "spool");
  const logs = join(o.dir, "logs");
  // Modes set explicitly: whatever umask this process has, ejabberd must be able to enter them.
  for (const d of [o.dir, spool, logs]) {
    mkdirSync(d, { recursive: true });
    chmodSync(d, 0o700);
  }
  const c2sPort = await freePort("127.0.0.1");
  writeFileSync(join(o.dir, "ejabberd.yml"), ejabberdConfig(o, c2sPort));
  writeFileSync(join(o.dir, "ejabberdctl.cfg"), `ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"\nEJABBERD_PID_PATH=${join(o.dir, "ejabberd.pid")}\n`);
  // ejabberd finds SRV records with DNS queries and addresses with getaddrinfo(), which reads
  // /etc/hosts: Herald's domains go there for as long as this server runs.
  writeFileSync(join(o.dir, "inetrc"), `{lookup, [file, native]}.\n{host, {127,0,0,1}, ["localhost"]}.\n`);
  const removeHosts = addHostsEntries(o.resolve);
  // The ejabberd user's ids from the passwd database, not from a child process (`id` run with
  // spawnSync can fail under load, and an empty answer read as 0 made everything root's, which
  // ejabberd then could not write: "Cannot write PID file").
  const { uid, gid } = systemUser("ejabberd");
  const chownTree = (p: string) => {
    chownSync(p, uid, gid);
    for (const f of spawnSync("find", [p], { encoding: "utf8" }).stdout.split("\n").filter(Boolean)) chownSync(f, uid, gid);
  };
  chownTree(o.dir);
  for (const d of o.domains) for (const f of [d.cert.combined, d.cert.cert, d.cert.key]) chownSync(f, uid, gid);
  if (o.caFile) chownSync(o.caFile, uid, gid);
  // The certificates' directory must be readable by ejabberd too, and the temporary directories
  // above (mkdtemp makes them 0700) passable.
  for (const p of [...o.domains.map((d) => d.cert.combined), ...(o.caFile ? [o.caFile] : [])]) {
    chownSync(dirname(p), uid, gid);
    chmodSync(dirname(p), 0o700);
  }
  for (const p of [o.dir, ...o.domains.map((d) => d.cert.combined), ...(o.caFile ? [o.caFile] : [])]) {
    for (let up = dirname(p); up.startsWith(`${tmpdir()}/`); up = dirname(up)) chmodSync(up, statSync(up).mode | 0o111);
  }
  const node = `herald-interop-${process.pid}-${Math.floor(Math.random() * 1e6)}@localhost`;
  const ctl = ["--config-dir", o.dir, "--config", join(o.dir, "ejabberd.yml"), "--spool", spool, "--logs", logs, "--node", node];
  const child = spawn("ejabberdctl", [...ctl, "foreground"], { stdio: ["ignore", "pipe", "pipe"], detached: true, cwd: o.dir });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const log = () => `${out}${readIf(join(logs, "ejabberd.log"))}${readIf(join(logs, "error.log"))}`;
  try {
    await waitForPort(c2sPort, { host: "127.0.0.1", child, timeoutMs: 60000 });
    await waitForPort(5269, { host: o.address, child, timeoutMs: 10000 });
    await registerAccounts(c2sPort, o);
  } catch (err) {
    await stopGroup(child, exited);
    await stopErlangNode(node);
    removeHosts();
    throw new Error(`ejabberd did not start: ${(err as Error).message}\n${log().slice(-4000)}`);
  }
  return {
    kind: "ejabberd",
    c2sPort,
    log,
    async stop() {
      await stopGroup(child, exited);
      // ejabberdctl runs the VM through su, in a session of its own: end it by its node name.
      await stopErlangNode(node);
      removeHosts();
    },
  };
}

/** Create the test accounts with in-band registration (XEP-0077): much faster than a prosodyctl or ejabberdctl process per account. */
async function registerAccounts(c2sPort: number, o: PeerOptions): Promise<void> {
  const one = async (domain: string, user: string, password: string) => {
    const c = await RawClient.connect(c2sPort, { domain });
    try {
      await c.stream(domain);
      const r = await c.iq(`<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>${user}</username><password>${password}</password></query></iq>`, 15000);
      if (r.attrs.type !== "result") throw new Error(`registering ${user}@${domain}: ${r}`);
    } finally {
      c.close();
    }
  };
  const todo = o.domains.flatMap((d) => Object.entries(o.users).map(([u, pw]) => () => one(d.name, u, pw)));
  // A few at a time: ejabberd's listener has a short accept backlog.
  for (let i = 0; i < todo.length; i += 4) await Promise.all(todo.slice(i, i + 4).map((f) => f()));
}

export function startPeer(kind: PeerKind, o: PeerOptions): Promise<PeerServer> {
  return kind === "prosody" ? startProsody(o) : startEjabberd(o);
}
