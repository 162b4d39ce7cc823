// The module API: everything a module touches goes through its `module` object, and the manager
// records all of it, so unloading a module removes every hook, feature, timer and listener it made.

import type { Handler } from "../events/bus.js";
import type { Host, Identity } from "../hosts/host.js";
import type { ClientSession } from "../sessions/session.js";
import type { ArchiveStore, Json, KeyvalStore, MapStore, StoreKind } from "../storage/types.js";
import type { Logger } from "../util/logger.js";
import type { OptionReader } from "../config/options.js";
import type { Element } from "../xml/stanza.js";
import type { AccountStore } from "../auth/accounts.js";
import type { MetricsRegistry } from "../stats/metrics.js";
import type { HttpHandler } from "../net/http-routes.js";

export interface Timer {
  cancel(): void;
}

export interface ModuleApi {
  readonly name: string;
  /** The host this instance runs on ("*" for global modules). */
  readonly host: string;
  readonly hostKind: "local" | "component";
  readonly log: Logger;
  /** Options of this host (falling back to the global section). */
  readonly options: OptionReader;
  /** Options of the global section. */
  readonly globalOptions: OptionReader;

  /** Load another module on this host first (Prosody's module:depends), e.g. "disco" on a component. */
  depends(name: string): Promise<void>;
  /** Hook an event on this host's bus. Higher priority runs first. */
  hook<T = unknown>(event: string, fn: Handler<T>, priority?: number): void;
  /** Hook an event on another host's bus (a component listening to a VirtualHost). Removed on unload. */
  hookOn<T = unknown>(host: string, event: string, fn: Handler<T>, priority?: number): boolean;
  /** Hook an event on the server-wide bus. */
  hookGlobal<T = unknown>(event: string, fn: Handler<T>, priority?: number): void;
  /** Fire on this host's bus; resolves to the first handler's non-undefined return value. */
  fire<T>(event: string, data: T): Promise<unknown>;
  fireGlobal<T>(event: string, data: T): Promise<unknown>;
  /** Fire on another host's bus (e.g. a component asking a VirtualHost's roster). */
  fireOn<T>(host: string, event: string, data: T): Promise<unknown>;

  addFeature(feature: string): void;
  addIdentity(category: string, type: string, name?: string): void;
  /** A data form (XEP-0128) added to the host's disco#info. */
  addDiscoExtension(form: () => Element): void;
  /** A disco#items entry of the host. */
  addDiscoItem(jid: string, name?: string): void;
  /** Features and identities of the host. */
  discoInfo(): { features: string[]; identities: Identity[]; extensions: Element[] };
  discoItems(): Array<{ jid: string; name?: string }>;

  openKeyval<T = Json>(store: string): KeyvalStore<T>;
  openMap<T = Json>(store: string): MapStore<T>;
  openArchive<T = Json>(store: string): ArchiveStore<T>;
  /** Bring a store of this host to value format `version` once (StorageDriver.upgradeValues); await it in load(). */
  upgradeStore(kind: StoreKind, store: string, version: number, upgrade: (value: Json) => Json): Promise<number>;

  /** Answer a stanza event: straight to the sending session when there is one, else routed. */
  reply(event: { origin: { send?: (s: Element) => boolean } | object }, stanza: Element): true;
  /** Route a stanza from this host. */
  send(stanza: Element): void;
  /** Route a stanza and wait until it has been handed over. */
  post(stanza: Element): Promise<void>;
  /** Send an iq from this host and wait for the reply. */
  sendIq(iq: Element, timeoutMs?: number): Promise<Element>;

  /** Repeating when fn returns a number (the next delay in ms); removed on unload. */
  addTimer(ms: number, fn: () => number | void | Promise<number | void>): Timer;
  /** Run when the module is unloaded. */
  onUnload(fn: () => void | Promise<void>): void;

  /** Bound client sessions of an account on this host. */
  sessionsOf(username: string): ClientSession[];
  session(username: string, resource: string): ClientSession | undefined;
  allSessions(): Iterable<ClientSession>;
  /** Is this JID one of the server's admins (`admins` option). */
  isAdmin(jid: string): boolean;
  /** Names of the hosts this server serves. */
  hostNames(): string[];
  /** The account store of this host (local hosts). */
  readonly accounts: AccountStore;
  /** The account store of another local host (a component checking a user's password), or undefined. */
  accountsOf(host: string): AccountStore | undefined;
  /** The Host object: for core-level modules only. */
  readonly hostObject: Host;
  /** The server's metrics (families are shared: the same name gives the same family). */
  readonly metrics: MetricsRegistry;
  /** Run fn before each rendering of the metrics; removed on unload. */
  onCollect(fn: () => void | Promise<void>): void;
  /** HTTP routes on the server's http(s) listeners, removed on unload. */
  readonly http: {
    route(method: string, pathPrefix: string, handler: HttpHandler): void;
    /** The public URL of a path (`http_external_url`, else the https listener, else http), or undefined without listeners. */
    url(path: string): string | undefined;
  };
  /** The server's data directory (`data_path`). */
  readonly dataPath: string;
  /** Time the server started (ms since epoch). */
  readonly serverStarted: number;
  readonly serverVersion: string;
}

export interface ModuleDefinition {
  load(module: ModuleApi): void | Promise<void>;
}

export function defineModule(def: ModuleDefinition): ModuleDefinition {
  return def;
}

/** How the server finds modules by name: bin/ hands the list of modules/ to the core. */
export type ModuleRegistry = Record<string, () => Promise<{ default: ModuleDefinition }>>;
