// Starts a real Herald for tests: a temporary data directory, quiet logs, and clients either over
// loopback sockets (transport, interop and end-to-end tests) or over in-memory connections
// (`transport: "memory"`: module tests, no listeners at all).
//
//   const ts = await startTestServer({ transport: "memory", config, users: ["alice", "bob"] });
//   const alice = await ts.login("alice");           // password "pw", stream + SASL + bind
//   const reply = await alice.iq("<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>");
//   await ts.stop();

import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../prosody-compat/config/index.js";
import { Config } from "../../src/config/options.js";
import { Server } from "../../src/server.js";
import { generateSelfSigned } from "../../src/net/certs.js";
import { LogRouter, consoleSink, type LogSink } from "../../src/util/logger.js";
import { shippedModules } from "../../modules/index.js";
import type { StorageDriver } from "../../src/storage/types.js";
import type { AccountRecord } from "../../src/auth/accounts.js";
import { deriveCredentials, type DerivedCredentials } from "../../src/sasl/credentials.js";
import { nodePrep } from "../../src/util/jid.js";
import { RawClient } from "../helpers/xmpp-client.js";
import { connectInMemory, type MemoryConnectOptions } from "./memory-transport.js";

type Mechanism = "PLAIN" | "SCRAM-SHA-1" | "SCRAM-SHA-256";

export interface ConnectOptions {
  /** The stream's `to` (default the first VirtualHost, "localhost"). */
  domain?: string;
  /** Sockets: direct TLS instead of plain TCP. */
  directTls?: boolean;
  /** Sockets: connect from this loopback address. */
  localAddress?: string;
  /** Memory: whether the server counts the connection as encrypted (default true). */
  secure?: boolean;
}

export interface LoginOptions extends ConnectOptions {
  resource?: string;
  /** Default: PLAIN over sockets without TLS (as the module tests always did), SCRAM-SHA-256 in memory. */
  mechanism?: Mechanism;
  /** Sockets: false to do STARTTLS first (default: no TLS). */
  noTls?: boolean;
}

export interface TestServer {
  server: Server;
  dataDir: string;
  transport: "sockets" | "memory";
  /** 0 in memory. */
  c2sPort: number;
  tlsPort: number;
  httpPort: number;
  httpsPort: number;
  /** The external components' port (XEP-0114), when a Component without a module is configured; else 0. */
  componentPort: number;
  /**
   * Create an account on the first VirtualHost (or `host`) for a test's setup. The record is the
   * one AccountStore.create() writes, with credentials derived once per password and process:
   * Argon2id and PBKDF2 cost tens of milliseconds of CPU per account. Tests of account creation
   * itself use server.accounts(host).create().
   */
  addUser(user: string, password?: string, host?: string): Promise<void>;
  /** A connected client, nothing sent yet. */
  connect(opts?: ConnectOptions): Promise<RawClient>;
  /**
   * A logged-in client with a bound resource. Sockets: PLAIN without TLS unless told otherwise
   * (the server must allow it); memory: SCRAM-SHA-256 on a connection that counts as encrypted.
   */
  login(user: string, password?: string, opts?: LoginOptions): Promise<RawClient>;
  /**
   * Close the clients connect() and login() made so far (stop() and restart() do it too), e.g. in
   * afterEach, so that each test starts with no one online.
   */
  closeClients(): void;
  stop(): Promise<void>;
  /** Stop and start again on the same data directory (and the same ports where possible). */
  restart(): Promise<TestServer>;
}

export const DEFAULT_TEST_CONFIG = `
admins = { "admin@localhost" }
modules_enabled = { "ping" }
c2s_require_encryption = true
VirtualHost "localhost"
`;

export interface StartOptions {
  config?: string;
  dataDir?: string;
  storage?: StorageDriver;
  keepData?: boolean;
  logSinks?: LogSink[];
  /** Listeners to have instead of all four on free ports (e.g. `{ https: [] }` for none). */
  /** s2s listeners only when asked for (they bind the configured s2s_interfaces). */
  ports?: Partial<Record<"c2s" | "c2s_direct_tls" | "http" | "https" | "s2s" | "s2s_direct_tls" | "component", number[]>>;
  /** "memory": no listeners (unless `ports` asks for some), clients connect in memory. Default "sockets". */
  transport?: "sockets" | "memory";
  /** Accounts to create (addUser) on the first VirtualHost, each with password "pw" (not again on restart). */
  users?: string[];
}

/** A restarted server's data directory is still the harness's to remove. */
const OWNED = Symbol("owned data directory");

/**
 * A self-signed certificate per host name, made once and kept in the temporary directory for
 * every test run: generating an RSA key takes a few hundred milliseconds of CPU, at every start.
 */
function cachedCertificate(host: string): { cert: string; key: string } {
  const dir = join(tmpdir(), `herald-test-certs-${process.getuid?.() ?? "u"}`);
  const certPath = join(dir, `${host}.crt`);
  const keyPath = join(dir, `${host}.key`);
  if (existsSync(certPath) && existsSync(keyPath)) {
    try {
      return { cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8") };
    } catch {
      /* made again below */
    }
  }
  const pair = generateSelfSigned([host, `*.${host}`]);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Written whole, then renamed: parallel test files never read half a file.
  const tag = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  writeFileSync(`${keyPath}.${tag}`, pair.key, { mode: 0o600 });
  writeFileSync(`${certPath}.${tag}`, pair.cert);
  renameSync(`${keyPath}.${tag}`, keyPath);
  renameSync(`${certPath}.${tag}`, certPath);
  return pair;
}

/** Put each VirtualHost's certificate where Herald would generate it (data_path/certs). */
function seedCertificates(config: Config, dataDir: string): void {
  const dir = join(dataDir, "certs");
  for (const h of config.hosts) {
    if (h.kind !== "VirtualHost") continue;
    const crt = join(dir, `${h.name}.crt`);
    if (existsSync(crt)) continue;
    const pair = cachedCertificate(h.name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, `${h.name}.key`), pair.key, { mode: 0o600 });
    writeFileSync(crt, pair.cert);
  }
}

const derived = new Map<string, Promise<DerivedCredentials>>();

/** Write an account as AccountStore.create() does, with credentials derived once per password. */
async function addAccount(server: Server, host: string, user: string, password: string): Promise<void> {
  let creds = derived.get(password);
  if (!creds) derived.set(password, (creds = deriveCredentials(password)));
  const record: AccountRecord = { credentials: await creds, created: Date.now() };
  const store = server.storage.keyval<AccountRecord>(host, "accounts");
  const name = nodePrep(user);
  if (name === undefined) throw new Error(`'${user}' is not a valid username`);
  if ((await store.get(name)) !== undefined) throw new Error(`${name}@${host} already exists`);
  await store.set(name, record);
}

const NO_LISTENERS = { c2s: [], c2s_direct_tls: [], http: [], https: [], s2s: [], s2s_direct_tls: [], component: [] };

export async function startTestServer(opts: StartOptions = {}): Promise<TestServer> {
  const transport = opts.transport ?? "sockets";
  const fresh = opts.dataDir === undefined;
  const owned = fresh || (opts as { [OWNED]?: boolean })[OWNED] === true;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "herald-test-"));
  const text = `data_path = ${JSON.stringify(dataDir)}\n${opts.config ?? DEFAULT_TEST_CONFIG}`;
  const config = new Config(parseConfig(text, "test.cfg.lua", { env: {}, baseDir: dataDir }));
  if (fresh) seedCertificates(config, dataDir);
  const server = new Server({
    config,
    ...shippedModules,
    baseDir: dataDir,
    storage: opts.storage,
    logRouter: new LogRouter([...(opts.logSinks ?? []), ...(process.env.HERALD_TEST_LOG ? [consoleSink(process.env.HERALD_TEST_LOG as "debug")] : [])]),
    portOverride: transport === "memory" ? { ...NO_LISTENERS, ...opts.ports } : { c2s: [0], c2s_direct_tls: [0], http: [0], https: [0], s2s: [], s2s_direct_tls: [], component: [0], ...opts.ports },
    interfaceOverride: ["127.0.0.1"],
  });
  await server.start();
  const firstHost = config.hosts.find((h) => h.kind === "VirtualHost")?.name ?? "localhost";
  for (const u of opts.users ?? []) await addAccount(server, firstHost, u, "pw");
  const listenerPort = (kind: string) => server.listeners.find((l) => l.kind === kind)?.port ?? 0;
  // The clients made through connect() and login() are closed when the server stops or restarts.
  const clients: RawClient[] = [];
  const closeClients = () => {
    for (const c of clients.splice(0)) c.close();
  };
  const ts: TestServer = {
    server,
    dataDir,
    transport,
    c2sPort: listenerPort("c2s"),
    tlsPort: listenerPort("c2s_direct_tls"),
    httpPort: listenerPort("http"),
    httpsPort: listenerPort("https"),
    componentPort: listenerPort("component"),
    addUser: (user, password = "pw", host = firstHost) => addAccount(server, host, user, password),
    async connect(c: ConnectOptions = {}) {
      const domain = c.domain ?? firstHost;
      const client =
        transport === "memory"
          ? RawClient.over(connectInMemory(server, { secure: c.secure } satisfies MemoryConnectOptions).stream, domain)
          : await RawClient.connect(ts.c2sPort, { directTls: c.directTls, localAddress: c.localAddress, domain });
      clients.push(client);
      return client;
    },
    async login(user: string, password = "pw", o: LoginOptions = {}) {
      const c = await ts.connect(o);
      if (transport === "memory") {
        // SCRAM, keeping each SaltedPassword as a client may (RFC 5802 §5.1): no password hashing
        // per login on either side.
        RawClient.saltedPasswords ??= new Map();
        await c.logIn(user, password, { resource: o.resource, mechanism: o.mechanism ?? "SCRAM-SHA-256", noTls: true });
      } else {
        await c.logIn(user, password, { resource: o.resource, mechanism: o.mechanism ?? "PLAIN", noTls: o.directTls || (o.noTls ?? true) });
      }
      return c;
    },
    closeClients,
    async stop() {
      closeClients();
      await server.stop("test finished");
      if (!opts.keepData && owned) rmSync(dataDir, { recursive: true, force: true });
    },
    async restart() {
      closeClients();
      await server.stop("restart");
      return startTestServer({ ...opts, dataDir, users: [], [OWNED]: owned } as StartOptions);
    },
  };
  return ts;
}
