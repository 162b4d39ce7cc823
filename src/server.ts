// The server: hosts, router, storage, modules and listeners, started and stopped as one.

import { describeOpenMode, makePrivateDir, openModes, restrictUmask } from "./util/file-modes.js";
import { isAbsolute, join, resolve } from "node:path";
import { EventBus } from "./events/bus.js";
import { Host } from "./hosts/host.js";
import { ModuleManager } from "./modules/manager.js";
import type { ModuleRegistry } from "./modules/api.js";
import { Router } from "./router/router.js";
import { installFallbacks } from "./router/fallbacks.js";
import { installComponentRoute } from "./router/components.js";
import type { StorageDriver } from "./storage/types.js";
import { createAccountStore, type AccountStore } from "./auth/accounts.js";
import type { C2SConnection, C2SContext } from "./net/c2s.js";
import { AuthThrottle, ReadThrottle, UnauthenticatedLimit, parseBurst, parseRate, type ReadLimit } from "./net/limits.js";
import { ConfigTable } from "./config/options.js";
import { CertStore, findInCertificatesDir, loadPair, selfSignedFor } from "./net/certs.js";
import { acceptTransport, listenC2S, listenHttp, type Listener, type ListenerContext, type TransportAttach } from "./net/listeners.js";
import type { Transport } from "./net/transport.js";
import { S2SManager, type S2SContext } from "./net/s2s.js";
import { listenS2S, s2sOptions, s2sTls, trustedCAs } from "./net/s2s-service.js";
import { bindAddress, serviceInterfaces, type BindAddress, type Service } from "./net/interfaces.js";
import { HttpRoutes } from "./net/http-routes.js";
import { ComponentStream, listenComponents, type ComponentContext } from "./net/component.js";
import { parserLimitOptions } from "./net/stream.js";
import { corsPolicy } from "./net/cors.js";
import { createLogger, LogRouter, consoleSink, RateLimitedLog, type Logger } from "./util/logger.js";
import type { Config, OptionReader } from "./config/options.js";
import { jidPrep } from "./util/jid.js";
import { VERSION } from "./version.js";
import { closeAdminSocket, startAdminSocket, type AdminRequest, type AdminResponse } from "./admin/socket.js";
import type { Server as NetServer } from "node:net";
import { MetricsRegistry } from "./stats/metrics.js";
import { timedStorage } from "./stats/storage.js";
import type { LogSink } from "./util/logger.js";

/** What bin/ hands the core about the modules Herald ships (modules/index.ts's `shippedModules`). */
export type ShippedModules = Pick<ServerOptions, "registry" | "autoloadModules" | "builtinModules" | "componentAutoloadModules" | "externalComponentAutoloadModules">;

export interface ServerOptions {
  config: Config;
  registry: ModuleRegistry;
  /** Loaded on every VirtualHost whatever modules_enabled says (Prosody's autoloaded modules). */
  autoloadModules: readonly string[];
  /** Prosody module names whose function is built into the core (a warning in modules_enabled; not loadable). */
  builtinModules: ReadonlySet<string>;
  /** Loaded on every Component unless in its modules_disabled (the stream features of server streams to it). */
  componentAutoloadModules?: readonly string[];
  /** Also loaded on every external Component (no module named; XEP-0114) unless in its modules_disabled: the handshake (mod_component). */
  externalComponentAutoloadModules?: readonly string[];
  /** Where relative paths (data_path, certificates) are resolved; default: the working directory. */
  baseDir?: string;
  logRouter?: LogRouter;
  /** Override the storage driver (tests). */
  storage?: StorageDriver;
  /** Listen on these ports instead of the configured ones (tests: 0 = any free port). */
  portOverride?: Partial<Record<"c2s" | "c2s_direct_tls" | "http" | "https" | "s2s" | "s2s_direct_tls" | "component", number[]>>;
  /** Interfaces to listen on instead of the configured ones (client and HTTP listeners; s2s keeps s2s_interfaces). */
  interfaceOverride?: string[];
  /** Use this data directory whatever the config says (scansion runs). */
  dataPathOverride?: string;
  /** Open the local admin socket (default: the `admin_socket` option, true). */
  adminSocket?: boolean;
  /** Read the configuration again (the shell's config:reload()); `herald start` re-reads its file. */
  configLoader?: () => { config: Config; logSinks?: LogSink[] };
}

/** Modules every VirtualHost gets without being asked (Prosody autoloads the same kind). */
export class Server {
  readonly globalBus: EventBus;
  readonly hosts = new Map<string, Host>();
  readonly router: Router;
  readonly log: Logger;
  readonly logRouter: LogRouter;
  /** Failures of peers and of the server an admin should see: `log_failures_per_minute` lines per kind and address a minute. */
  readonly failureLog: RateLimitedLog;
  readonly modules: ModuleManager;
  readonly certs = new CertStore();
  readonly connections = new Set<C2SConnection>();
  /** Streams of external components (XEP-0114), authenticated or not. */
  readonly componentStreams = new Set<ComponentStream>();
  /** Counters, gauges and histograms, served by mod_http_openmetrics. */
  readonly metrics = new MetricsRegistry();
  readonly dataPath: string;
  /** HTTP routes of modules, served by the http(s) listeners. */
  readonly http = new HttpRoutes();
  storage!: StorageDriver;
  listeners: Listener[] = [];
  started = 0;
  private accountStores = new Map<string, AccountStore>();
  /** Federation (src/net/s2s.ts), unless "s2s" is in the global modules_disabled. */
  s2s?: S2SManager;
  /** The per-address limits of client connections (made once, when modules or listeners first need them). */
  private limitsMade?: ReturnType<Server["connectionLimits"]>;
  get limits(): ReturnType<Server["connectionLimits"]> {
    return (this.limitsMade ??= this.connectionLimits());
  }
  /** Read throttles of live connections (mod_limits). */
  private readonly readThrottles = new WeakMap<C2SConnection, ReadThrottle>();
  private admins = new Set<string>();
  private stopping = false;

  constructor(private readonly opts: ServerOptions) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    this.logRouter = opts.logRouter ?? new LogRouter([consoleSink("info")]);
    this.log = createLogger(this.logRouter, "general");
    this.failureLog = new RateLimitedLog(this.log.child("c2s"), opts.config.global.integer("log_failures_per_minute", 10, { min: 1, max: 1_000_000 }));
    this.globalBus = new EventBus(this.log);
    this.router = new Router(this.hosts, this.log.child("router"));
    const g = opts.config.global;
    const base = opts.baseDir ?? process.cwd();
    const dp = opts.dataPathOverride ?? g.string("data_path", "./data");
    this.dataPath = isAbsolute(dp) ? dp : resolve(base, dp);
    this.modules = new ModuleManager(opts.registry, {
      hosts: this.hosts,
      globalBus: this.globalBus,
      router: this.router,
      get storage() {
        return self.storage;
      },
      log: this.log,
      globalOptions: g,
      accounts: (host) => this.accounts(host),
      admins: () => this.admins,
      get started() {
        return self.started;
      },
      version: VERSION,
      metrics: this.metrics,
      http: this.http,
      dataPath: this.dataPath,
      // The SASL throttle: password checks over HTTP (Basic) take their turn from the same budget.
      authThrottle: () => this.limits.authThrottle,
    });
    this.http.listeners = () => this.listeners;
    this.metrics.onCollect(() => {
      // Prosody's mod_c2s gauge: established connections by host, session type and address family.
      const g = this.metrics.gauge("prosody_mod_c2s__connections", "Established c2s connections", ["host", "type", "ip_family"]);
      g.clear();
      for (const c of this.connections) {
        const v6 = c.remoteAddress.includes(":") && !c.remoteAddress.startsWith("::ffff:");
        g.inc([c.host, c.type, v6 ? "ipv6" : "ipv4"]);
      }
    });
  }

  /** Re-read the configuration (config:reload()); throws when the server has no way to. */
  loadConfigAgain(): { config: Config; logSinks?: LogSink[] } {
    if (!this.opts.configLoader) throw new Error("This server was not started from a configuration file it can read again");
    return this.opts.configLoader();
  }

  /** The configuration config:reload() read becomes the current one. */
  replaceConfig(config: Config): void {
    this.opts.config = config;
  }

  setAdmins(jids: string[]): void {
    this.admins.clear();
    for (const j of jids) this.admins.add(j);
  }

  /** Prosody module names whose function is built into the core (handed over by bin/). */
  get builtinModules(): ReadonlySet<string> {
    return this.opts.builtinModules;
  }

  get config(): Config {
    return this.opts.config;
  }

  accounts(host: string): AccountStore {
    let a = this.accountStores.get(host);
    if (!a) {
      const o = this.hostOptions(host);
      const auth = o.string("authentication", "internal_hashed");
      a = createAccountStore(this.storage, host, {
        acceptAny: auth === "insecure",
        iterations: o.integer("scram_iteration_count", 10000, { min: 4096, max: 1_000_000 }),
        onDelete: async (username) => {
          await this.globalBus.fire("user-deleted", { host, username });
          const sessions = this.hosts.get(host)?.sessionsOf(username) ?? [];
          for (const s of sessions) s.close({ condition: "not-authorized", text: "Account deleted" });
          // Their last stanzas and unbind run before the account store purges again.
          await Promise.all(sessions.map((s) => s.drain?.()));
        },
      });
      this.accountStores.set(host, a);
    }
    return a;
  }

  private hostOptions(host: string): OptionReader {
    return this.hosts.get(host)?.options ?? this.opts.config.host(host);
  }

  /** Open storage, set up hosts and modules, start listening. */
  async start(): Promise<void> {
    const g = this.opts.config.global;
    this.started = Date.now();
    // Everything Herald writes (database, generated keys, admin socket) is for its own user only.
    restrictUmask();
    for (const m of openModes(this.dataPath)) this.log.warn(describeOpenMode(m));
    const writes = this.metrics.histogram("herald_storage_write_seconds", "Time a store write takes until it is durable", ["driver", "store"], { unit: "seconds" });
    this.storage = timedStorage(this.opts.storage ?? (await this.openConfiguredStorage()), writes);
    await this.storage.open();

    for (const a of g.array("admins", [])) {
      const j = jidPrep(a);
      if (j) this.admins.add(j);
      else this.log.warn(`admins: '${a}' is not a valid JID`);
    }

    for (const h of this.opts.config.hosts) {
      const options = this.opts.config.host(h.name);
      if (options.has("enabled") && !options.boolean("enabled", true)) continue;
      const host = new Host(h.name, h.kind === "Component" ? "component" : "local", options, this.log.child(h.name), h.module);
      this.hosts.set(h.name, host);
      installFallbacks(host, this.router);
      if (host.external) installComponentRoute(host, this.router);
    }
    if (![...this.hosts.values()].some((h) => h.kind === "local")) {
      this.log.warn("No VirtualHost is configured: clients cannot log in");
    }

    for (const host of this.hosts.values()) await this.loadHostModules(host);
    this.loadCertificates();
    await this.startListeners();
    await this.startAdmin();
    for (const host of this.hosts.values()) await this.globalBus.fire("host-activated", { host: host.name });
    await this.globalBus.fire("server-started", {});
    this.log.info(`Herald ${VERSION} started: ${[...this.hosts.keys()].join(", ")}`);
  }

  /** The configured driver, whose code only is loaded (a server on memory storage does not load LevelDB's). */
  private async openConfiguredStorage(): Promise<StorageDriver> {
    const g = this.opts.config.global;
    const kind = g.string("storage", "internal");
    if (kind === "memory") return new (await import("./storage/memory.js")).MemoryStorage();
    if (kind !== "internal" && kind !== "leveldb") {
      this.log.warn(`storage = "${kind}" is not available in Herald; using LevelDB ("internal")`);
    }
    makePrivateDir(this.dataPath);
    const { createStorage } = await import("./storage/index.js");
    return createStorage("leveldb", { path: join(this.dataPath, "herald.db") });
  }

  /** Which modules a host gets: Prosody's rules (global list for VirtualHosts, own list for Components). */
  moduleListFor(host: Pick<Host, "options" | "kind" | "componentModule">): { load: string[]; warnings: string[] } {
    const o = host.options;
    const warnings: string[] = [];
    const wanted: string[] = [];
    const disabled = new Set(o.array("modules_disabled", []));
    if (host.kind === "local") {
      for (const m of this.opts.autoloadModules) if (this.modules.has(m)) wanted.push(m);
      wanted.push(...o.array("modules_enabled", []));
    } else {
      for (const m of this.opts.componentAutoloadModules ?? []) if (this.modules.has(m)) wanted.push(m);
      if (!host.componentModule) for (const m of this.opts.externalComponentAutoloadModules ?? []) if (this.modules.has(m)) wanted.push(m);
      if (host.componentModule) wanted.push(host.componentModule);
      wanted.push(...o.ownArray("modules_enabled"));
    }
    const load: string[] = [];
    for (const name of wanted) {
      if (disabled.has(name) || load.includes(name)) continue;
      if (this.modules.has(name)) load.push(name);
      else if (name === "limits") continue; // turns on the read rate of client streams (readLimit)
      else if (name === "bosh") continue; // turns on BOSH on the HTTP listeners (boshOptions)
      else if (this.opts.builtinModules.has(name)) warnings.push(`'${name}' is built into Herald; it does not need to be in modules_enabled`);
      else warnings.push(`Module '${name}' is not available in Herald; it is ignored`);
    }
    return { load, warnings };
  }

  private warnedModules = new Set<string>();

  private async loadHostModules(host: Host): Promise<void> {
    const { load, warnings } = this.moduleListFor(host);
    for (const w of warnings) {
      if (this.warnedModules.has(w)) continue;
      this.warnedModules.add(w);
      this.log.warn(w);
    }
    for (const name of load) {
      try {
        await this.modules.load(host, name);
      } catch (err) {
        this.log.error(`Failed to load module ${name} on ${host.name}: ${(err as Error).stack ?? err}`);
      }
    }
  }

  private loadCertificates(): void {
    const base = this.opts.baseDir ?? process.cwd();
    const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
    for (const host of this.hosts.values()) {
      if (host.kind !== "local") continue;
      const o = host.options;
      const cert = o.string("certificate", "");
      const key = o.string("key", "");
      try {
        const found = cert && key ? { cert: abs(cert), key: abs(key) } : findInCertificatesDir(abs(o.string("certificates", "certs")), host.name);
        const pair = found ? loadPair(found.cert, found.key) : selfSignedFor(host.name, this.dataPath);
        this.certs.add(host.name, pair);
        this.log.debug(`Certificate for ${host.name}: ${pair.source}`);
      } catch (err) {
        this.log.error(`Certificate for ${host.name} could not be loaded: ${(err as Error).message}; TLS is not available for it`);
      }
    }
  }

  /** Prosody's mod_limits for client streams: on when "limits" is in the global modules_enabled. */
  readLimit(): ReadLimit | undefined {
    const g = this.opts.config.global;
    if (!g.array("modules_enabled", []).includes("limits") || g.array("modules_disabled", []).includes("limits")) {
      if (g.has("limits")) this.log.warn(`limits is set but "limits" is not in the global modules_enabled: client sessions are read without a rate limit`);
      return undefined;
    }
    // Prosody's defaults when the module is loaded: 10 KiB/s with a 2 s burst.
    const limit: ReadLimit = { bytesPerSecond: 10 * 1024, burstSeconds: 2 };
    const c2s = g.table("limits")?.get("c2s");
    if (c2s instanceof ConfigTable) {
      const rate = c2s.get("rate");
      const burst = c2s.get("burst");
      if (rate !== undefined) {
        const r = parseRate(rate);
        if (r === undefined || r <= 0) this.log.error(`limits: c2s rate ${JSON.stringify(rate)} is not a rate like "10kb/s"; using ${limit.bytesPerSecond} bytes/s`);
        else limit.bytesPerSecond = r;
      }
      if (burst !== undefined) {
        const b = parseBurst(burst);
        if (b === undefined) this.log.error(`limits: c2s burst ${JSON.stringify(burst)} is not a duration like "2s"; using ${limit.burstSeconds} s`);
        else limit.burstSeconds = b;
      }
    }
    return limit;
  }

  /**
   * BOSH (XEP-0206) at /http-bind: on when a VirtualHost has "bosh" in its modules_enabled (as in
   * Prosody, where mod_bosh is a global module). Options with Prosody's names and defaults.
   */
  boshOptions(): ListenerContext["bosh"] {
    const enabled = (h: Host | undefined) =>
      h?.kind === "local" && h.options.array("modules_enabled", []).includes("bosh") && !h.options.array("modules_disabled", []).includes("bosh");
    if (![...this.hosts.values()].some(enabled)) return undefined;
    const g = this.opts.config.global;
    // CORS as for every HTTP service (src/net/cors.ts); the older cross_domain_bosh is still read.
    const legacy = g.raw("cross_domain_bosh");
    const base =
      legacy instanceof ConfigTable ? { enabled: true, origins: legacy.array.map(String) }
      : typeof legacy === "string" ? { enabled: true, origins: [legacy] }
      : typeof legacy === "boolean" ? { enabled: legacy, origins: [] }
      : undefined;
    return {
      maxInactivity: g.period("bosh_max_inactivity", 60, { min: 1, max: 86400 }),
      maxWait: g.period("bosh_max_wait", 120, { min: 1, max: 3600 }),
      maxPolling: g.period("bosh_max_polling", 5, { min: 0, max: 3600 }),
      maxPause: g.period("bosh_max_pause", 120, { min: 1, max: 86400 }),
      maxBodySize: g.integer("http_max_content_size", 10 * 1024 * 1024, { min: 1024, max: 1024 * 1024 * 1024 }),
      maxStanzaSize: this.opts.config.global.integer("c2s_stanza_size_limit", 256 * 1024, { min: 10 * 1024, max: 64 * 1024 * 1024 }),
      considerSecure: g.boolean("consider_bosh_secure", false),
      cors: corsPolicy(g, "bosh", base),
      // A VirtualHost with "bosh" in modules_disabled takes no BOSH sessions.
      serves: (name: string) => enabled(this.hosts.get(name)),
    };
  }

  /** The per-address limits of client connections (src/net/limits.ts), read from the global options. */
  private connectionLimits() {
    const g = this.opts.config.global;
    const unauthenticated = new UnauthenticatedLimit(g.integer("c2s_max_unauthenticated_per_ip", 10, { min: 1, max: 100000 }));
    const authThrottle = new AuthThrottle(
      g.integer("limit_auth_max", 5, { min: 1, max: 10000 }),
      g.period("limit_auth_period", 30, { min: 1, max: 86400 }) * 1000,
    );
    return { unauthenticated, authThrottle, readLimit: this.readLimit() };
  }

  /** Sessions of accounts in `unlimited_jids` read without the mod_limits rate. */
  private unlimited(conn: C2SConnection): boolean {
    return conn.bareJid !== undefined && this.hostOptions(conn.host).inheritedSet("unlimited_jids").has(conn.bareJid);
  }

  c2sContext(): C2SContext {
    const limits = this.limits;
    const stanzas = this.metrics.counter("herald_c2s_stanzas", "Stanzas received from and sent to clients", ["direction", "kind"]);
    return {
      countStanza: (direction, kind) => stanzas.inc([direction, kind]),
      hosts: this.hosts,
      router: this.router,
      log: this.log.child("c2s"),
      accounts: (h) => this.accounts(h),
      authThrottle: limits.authThrottle,
      failureLog: this.failureLog,
      authenticated: (conn) => {
        limits.unauthenticated.release(conn);
        if (this.unlimited(conn)) this.readThrottles.get(conn)?.disable();
      },
      closed: (conn) => {
        this.connections.delete(conn);
        limits.unauthenticated.release(conn);
        limits.authThrottle.cancel(conn);
        this.readThrottles.get(conn)?.stop();
      },
      // Read once per host: this is asked on every stream open.
      options: this.perHostOptions((o) => {
        const conflict = o.enum("conflict_resolve", "kick_old", ["kick_old", "kick_new", "random", "increment"]);
        return {
          requireEncryption: o.boolean("c2s_require_encryption", true),
          allowUnencryptedPlain: o.boolean("allow_unencrypted_plain_auth", false),
          disabledMechanisms: new Set([...o.set("disable_sasl_mechanisms")].map((m) => m.toUpperCase())),
          maxStanzaSize: o.integer("c2s_stanza_size_limit", 256 * 1024, { min: 10 * 1024, max: 64 * 1024 * 1024 }),
          ...parserLimitOptions(o),
          conflictResolve: conflict === "increment" ? "random" : conflict,
          keepaliveSeconds: o.integer("c2s_keepalive_interval", 300, { min: 0, max: 86400 }),
          maxAuthFailures: o.integer("c2s_max_auth_failures", 5, { min: 1, max: 100 }),
          loginTimeoutSeconds: o.integer("c2s_timeout", 300, { min: 1, max: 86400 }),
          maxSendBuffer: o.integer("c2s_send_buffer_limit", 16 * 1024 * 1024, { min: 64 * 1024, max: 1024 * 1024 * 1024 }),
        };
      }),
    };
  }

  /** A per-host option reader that reads once per host (and once for the global options, host undefined). */
  private perHostOptions<T>(read: (o: OptionReader) => T): (host: string | undefined) => T {
    const cache = new Map<string, T>();
    return (h) => {
      let opts = cache.get(h ?? "*");
      if (opts === undefined) {
        opts = read(h ? this.hostOptions(h) : this.opts.config.global);
        cache.set(h ?? "*", opts);
      }
      return opts;
    };
  }

  /** What component streams need: Prosody's mod_component options, per component host. */
  componentContext(): ComponentContext {
    return {
      hosts: this.hosts,
      router: this.router,
      log: this.log.child("component"),
      failureLog: this.failureLog,
      streams: this.componentStreams,
      options: this.perHostOptions((o) => ({
        validateFrom: o.boolean("validate_from_addresses", true),
        limits: {
          // Prosody: component_stanza_size_limit, else s2s_stanza_size_limit, else 512 KiB.
          maxStanzaSize: o.integer("component_stanza_size_limit", o.integer("s2s_stanza_size_limit", 512 * 1024, { min: 10 * 1024, max: 64 * 1024 * 1024 }), { min: 10 * 1024, max: 64 * 1024 * 1024 }),
          ...parserLimitOptions(o),
          keepaliveSeconds: o.integer("c2s_keepalive_interval", 300, { min: 0, max: 86400 }),
        },
        maxSendBuffer: o.integer("c2s_send_buffer_limit", 16 * 1024 * 1024, { min: 64 * 1024, max: 1024 * 1024 * 1024 }),
      })),
    };
  }

  private async startListeners(): Promise<void> {
    const g = this.opts.config.global;
    const c2s = this.c2sContext();
    const ctx: ListenerContext = {
      c2s,
      certs: this.certs,
      log: this.log.child("net"),
      connections: this.connections,
      maxStanzaSize: () => c2s.options(undefined).maxStanzaSize,
      considerWebsocketSecure: g.boolean("consider_websocket_secure", false),
      trustedProxies: g.set("trusted_proxies", ["127.0.0.1", "::1"]),
      admit: (conn, remote) => this.limits.unauthenticated.admit(conn, remote),
      readLimit: this.limits.readLimit,
      readThrottles: this.readThrottles,
      http: this.http,
      bosh: this.boshOptions(),
      httpExternalUrl: g.string("http_external_url"),
      httpLimits: {
        maxHeaderSize: g.integer("http_max_header_size", 16 * 1024, { min: 1024, max: 1024 * 1024 }),
        headersTimeoutMs: g.period("http_headers_timeout", 30, { min: 0.2, max: 3600 }) * 1000,
        requestTimeoutMs: g.period("http_request_timeout", 300, { min: 0.2, max: 86400 }) * 1000,
        keepAliveTimeoutMs: g.period("http_keepalive_timeout", 5, { min: 0.1, max: 3600 }) * 1000,
        maxPendingPerAddress: g.integer("http_max_pending_per_ip", 50, { min: 1, max: 1_000_000 }),
      },
    };
    this.listenerContext = ctx;
    const override = this.opts.portOverride ?? {};
    // Prosody's portmanager rules (src/net/interfaces.ts); the override is for tests and scansion.
    const ifaces = (service: Service) => {
      const chosen = this.opts.interfaceOverride ? { names: this.opts.interfaceOverride, from: "override" } : serviceInterfaces(g, service);
      return chosen.names.map((n) => ({ ...bindAddress(n), fromDefault: chosen.from.startsWith("default") }));
    };
    const ports = (name: "c2s" | "c2s_direct_tls" | "http" | "https" | "s2s" | "s2s_direct_tls" | "component", option: string, def: number[]) =>
      override[name] ?? g.array(option, def.map(String)).map(Number);
    const s2sIfaces = (service: "s2s" | "s2s_direct_tls") => {
      const chosen = serviceInterfaces(g, service);
      return chosen.names.map((n) => ({ ...bindAddress(n), fromDefault: chosen.from.startsWith("default") }));
    };
    const plan: Array<[number[], ReturnType<typeof ifaces>, (port: number, addr: BindAddress) => Promise<Listener>]> = [
      [ports("c2s", "c2s_ports", [5222]), ifaces("c2s"), (p, a) => listenC2S(ctx, p, a, false)],
      [ports("c2s_direct_tls", "c2s_direct_tls_ports", [5223]), ifaces("c2s_direct_tls"), (p, a) => listenC2S(ctx, p, a, true)],
      [ports("http", "http_ports", [5280]), ifaces("http"), (p, a) => listenHttp(ctx, p, a, false)],
      [ports("https", "https_ports", [5281]), ifaces("https"), (p, a) => listenHttp(ctx, p, a, true)],
    ];
    const s2s = this.startS2S();
    if (s2s) {
      plan.push(
        [ports("s2s", "s2s_ports", [5269]), s2sIfaces("s2s"), (p, a) => listenS2S(s2s.ctx, s2s.manager, p, a, false)],
        [ports("s2s_direct_tls", "s2s_direct_tls_ports", []), s2sIfaces("s2s_direct_tls"), (p, a) => listenS2S(s2s.ctx, s2s.manager, p, a, true)],
      );
    }
    // External components (XEP-0114): listened for only when a Component without a module is configured.
    if ([...this.hosts.values()].some((h) => h.external)) {
      const components = this.componentContext();
      plan.push([ports("component", "component_ports", [5347]), ifaces("component"), (p, a) => listenComponents(components, p, a)]);
    }
    for (const [portList, addrs, start] of plan) {
      for (const port of portList) {
        for (const addr of addrs) {
          try {
            this.listeners.push(await start(port, addr));
          } catch (err) {
            const e = err as NodeJS.ErrnoException;
            const text = `Could not listen on [${addr.name}]:${port}: ${e.code === "EADDRINUSE" ? "the port is in use" : e.message}`;
            // A default IPv6 address on a host without IPv6 is not worth an error.
            if (addr.fromDefault && (e.code === "EAFNOSUPPORT" || e.code === "EADDRNOTAVAIL")) this.log.debug(text);
            else this.log.error(text);
          }
        }
      }
    }
  }

  /** Federation: on unless "s2s" is in the global modules_disabled (as in Prosody). */
  private startS2S(): { ctx: S2SContext; manager: S2SManager } | undefined {
    const g = this.opts.config.global;
    if (g.array("modules_disabled", []).includes("s2s")) return undefined;
    const log = this.log.child("s2s");
    const ctx: S2SContext = {
      hosts: this.hosts,
      router: this.router,
      log,
      failureLog: this.failureLog,
      tls: s2sTls(this.certs, trustedCAs(g, this.opts.baseDir ?? process.cwd(), log)),
      options: s2sOptions(g, log),
    };
    const stanzas = this.metrics.counter("herald_s2s_stanzas", "Stanzas received from and sent to other servers", ["direction", "kind"]);
    const bytes = this.metrics.counter("herald_s2s_bytes", "Bytes of XML read from and written to other servers (before TLS)", ["direction"]);
    const overflows = this.metrics.counter("herald_s2s_send_buffer_overflows", "Connections to other servers dropped because more than s2s_send_buffer_limit bytes waited for the peer", []);
    const lost = this.metrics.counter("herald_s2s_send_buffer_lost_bytes", "Bytes lost with those connections (written, never read by the peer)", []);
    overflows.inc([], 0);
    lost.inc([], 0);
    ctx.stats = {
      stanza: (direction, kind) => stanzas.inc([direction, kind]),
      bytes: (direction, n) => bytes.inc([direction], n),
      overflow: (n) => {
        overflows.inc([]);
        lost.inc([], n);
      },
    };
    const manager = new S2SManager(ctx);
    this.s2s = manager;
    this.router.remote = manager;
    this.metrics.onCollect(() => {
      // As prosody_mod_c2s__connections: established connections by local host, direction and address family.
      const g = this.metrics.gauge("prosody_mod_s2s__connections", "Established s2s connections", ["host", "direction", "ip_family"]);
      g.clear();
      for (const r of manager.list()) {
        if (!r.ready) continue;
        const v6 = r.address.includes(":") && !r.address.startsWith("::ffff:");
        g.inc([r.local, r.direction === "out" ? "outgoing" : "incoming", v6 ? "ipv6" : "ipv4"]);
      }
      this.metrics.gauge("herald_s2s_queued_stanzas", "Stanzas waiting for a connection to another server").set([], manager.queued());
    });
    return { ctx, manager };
  }

  private listenerContext?: ListenerContext;

  /**
   * Start a client stream on a transport of the caller's (Herald's tests use an in-memory pair):
   * stream negotiation, SASL, binding and stanzas go through the same code as on a socket.
   */
  acceptTransport(transport: Transport & Partial<TransportAttach>): C2SConnection {
    if (!this.listenerContext) throw new Error("the server is not started");
    return acceptTransport(this.listenerContext, transport);
  }

  get adminSocketPath(): string {
    return join(this.dataPath, "herald.sock");
  }

  private adminServer?: NetServer;

  private async startAdmin(): Promise<void> {
    if (!(this.opts.adminSocket ?? this.opts.config.global.boolean("admin_socket", true))) return;
    makePrivateDir(this.dataPath);
    this.adminServer = await startAdminSocket(this.adminSocketPath, (req) => this.adminCommand(req), this.log.child("admin"));
  }

  /** The account commands of the CLI, run inside the server. */
  async adminCommand(req: AdminRequest): Promise<AdminResponse> {
    if (req.command === "status") return { ok: true, result: { version: VERSION, hosts: [...this.hosts.keys()], sessions: this.connections.size } };
    if (req.command === "shell") {
      // The console's commands are loaded by the first one, not by a server nobody administers.
      const { runShellLine } = await import("./admin/shell.js");
      return { ok: true, result: await runShellLine(this, req.line ?? "") };
    }
    const host = req.host ?? "";
    if (this.hosts.get(host)?.kind !== "local") return { ok: false, error: `${host} is not a VirtualHost of this server` };
    const accounts = this.accounts(host);
    try {
      switch (req.command) {
        case "adduser": {
          // A module may refuse the name (tombstones of deleted accounts).
          const refusal = await this.hosts.get(host)?.bus.fire("user-registering", { username: req.username ?? "", source: "admin" });
          if (refusal) return { ok: false, error: refusal.text ?? `${req.username}@${host} may not be created` };
          await accounts.create(req.username ?? "", req.password ?? "");
          await this.globalBus.fire("user-registered", { host, username: req.username ?? "", source: "admin" });
          return { ok: true };
        }
        case "passwd":
          await accounts.setPassword(req.username ?? "", req.password ?? "");
          return { ok: true };
        case "deluser":
          await accounts.delete(req.username ?? "");
          return { ok: true };
        case "listusers":
          return { ok: true, result: await accounts.list() };
        default:
          return { ok: false, error: `Unknown command ${String(req.command)}` };
      }
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  }

  /** The port a listener of this kind is bound to (tests use port 0). */
  port(kind: Listener["kind"]): number {
    const l = this.listeners.find((x) => x.kind === kind);
    if (!l) throw new Error(`No ${kind} listener`);
    return l.port;
  }

  /** Close every stream with <system-shutdown/>, flush and close the store. */
  async stop(reason = "Server is shutting down"): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info(`Stopping: ${reason}`);
    await this.globalBus.fire("server-stopping", { reason });
    // Stop accepting; a listener's close completes once its connections are gone.
    const closing = this.listeners.map((l) => l.close().catch(() => {}));
    const conns = [...this.connections];
    for (const c of conns) c.close({ condition: "system-shutdown", text: reason });
    const components = [...this.componentStreams];
    for (const c of components) c.close({ condition: "system-shutdown", text: reason });
    await Promise.all(components.map((c) => c.drain()));
    await Promise.all(conns.map((c) => c.drain()));
    if (this.s2s) {
      this.router.remote = undefined;
      this.s2s.stop();
      for (const s of this.s2s.streams()) s.close({ condition: "system-shutdown", text: reason });
    }
    await Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, 3000).unref())]);
    if (this.adminServer) await closeAdminSocket(this.adminServer, this.adminSocketPath);
    this.router.cancelPending();
    await this.modules.unloadAll();
    await this.storage?.close();
    this.log.info("Stopped");
    await this.logRouter.flush(); // file sinks write in the background: everything is on disk before exit
  }
}
