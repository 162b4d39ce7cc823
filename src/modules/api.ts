// The module API: everything a module touches goes through its `module` object, and the manager
// records all of it, so unloading a module removes every hook, feature, timer and listener it made.

import type { EventData, EventHandler, EventName, EventResult } from "../events/bus.js";
import type { PostOptions, StanzaEvent } from "../router/router.js";
import type { StanzaError } from "../xml/stanza.js";
import type { Identity } from "../hosts/host.js";
import type { ClientSession } from "../sessions/session.js";
import type { ArchiveStore, Json, KeyvalStore, MapStore, StoreKind } from "../storage/types.js";
import type { Logger } from "../util/logger.js";
import type { OptionReader } from "../config/options.js";
import type { Element } from "../xml/stanza.js";
import type { AccountStore } from "../auth/accounts.js";
import type { MetricsRegistry } from "../stats/metrics.js";
import type { HttpHandler } from "../net/http-routes.js";
import type { AuthThrottle } from "../net/limits.js";
import type { FeatureProvider, XmppStream } from "../net/stream.js";
import type { FeatureStreamKind } from "../hosts/stream-features.js";

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

  /**
   * Load another module on this host first (Prosody's module:depends) and get the service it
   * provides (see ServiceMap), e.g. `const roster = await module.depends("roster")`.
   */
  depends<K extends keyof ServiceMap>(name: K): Promise<ServiceMap[K]>;
  depends(name: string): Promise<void>;
  /** Offer this module's service to others on this host under its name (Prosody's module:provides); removed on unload. */
  provides<K extends keyof ServiceMap>(name: K, service: ServiceMap[K]): void;
  /** The service another host's module provides, if it is loaded there (a component using its VirtualHost's roster). */
  serviceOn<K extends keyof ServiceMap>(host: string, name: K): ServiceMap[K] | undefined;
  /** State shared by every instance of this module on every host (Prosody's module:shared): made once by init. */
  shared<T>(key: string, init: () => T): T;

  /** Hook an event on this host's bus. Higher priority runs first. */
  hook<K extends EventName>(event: K, fn: EventHandler<K>, priority?: number): void;
  /** Hook an event on another host's bus (a component listening to a VirtualHost). Removed on unload. */
  hookOn<K extends EventName>(host: string, event: K, fn: EventHandler<K>, priority?: number): boolean;
  /** Hook an event on the server-wide bus. */
  hookGlobal<K extends EventName>(event: K, fn: EventHandler<K>, priority?: number): void;
  /** Fire on this host's bus; resolves to the first handler's answer, rejects with a handler's error. */
  fire<K extends EventName>(event: K, data: EventData<K>): Promise<EventResult<K> | undefined>;
  fireGlobal<K extends EventName>(event: K, data: EventData<K>): Promise<EventResult<K> | undefined>;
  /** Fire on another host's bus (e.g. a component asking a VirtualHost's roster). */
  fireOn<K extends EventName>(host: string, event: K, data: EventData<K>): Promise<EventResult<K> | undefined>;

  /**
   * iq handlers that return their reply (`iq-get/<to>/<ns>:<name>` underneath): see IqHandler.
   * `to` says which addresses the handler serves: the host ("host", the default), an account's
   * bare JID ("bare"), the sender's own account ("self"), or a full JID ("full").
   */
  readonly iq: {
    get(ns: string, name: string, handler: IqHandler, opts?: IqOptions): void;
    set(ns: string, name: string, handler: IqHandler, opts?: IqOptions): void;
  };

  /**
   * Offer a stream feature on this host's streams of the given kinds (client streams, incoming
   * server streams): its part of <stream:features/> and the stream-level elements of its
   * namespaces. Higher priority is offered first; removed on unload.
   */
  addStreamFeature<S extends XmppStream>(provider: FeatureProvider<S>, kinds: readonly FeatureStreamKind[], priority?: number): void;
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

  /** Answer a stanza event: straight to the sending session when there is one, else routed. (iq handlers return their reply instead.) */
  reply(event: { origin: { send?: (s: Element) => boolean } | object }, stanza: Element): true;
  /** Route a stanza from this host. */
  send(stanza: Element): void;
  /**
   * Route a stanza and wait until it has been handed over (to a congested server: until it has read
   * what waits, REMOTE_FLOW_WAIT_MS at most, unless `opts.onCongested` takes that wait instead).
   */
  post(stanza: Element, opts?: PostOptions): Promise<void>;
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
  /**
   * Password attempts per remote address (limit_auth_max, limit_auth_period): the server's one
   * throttle, which SASL uses too. A module that checks passwords (HTTP Basic) takes a turn with
   * `acquire(address, owner)` before checking and `release(address)` when the password was right,
   * so a guesser has one budget whichever endpoints it alternates between.
   */
  readonly authThrottle: AuthThrottle;
  /** The server's data directory (`data_path`). */
  readonly dataPath: string;
  /** Time the server started (ms since epoch). */
  readonly serverStarted: number;
  readonly serverVersion: string;
}

/**
 * The live services modules offer each other, by name (the providing module's name). A module
 * declares its service by declaration merging:
 *
 *   declare module "../../src/modules/api.js" {
 *     interface ServiceMap { roster: RosterService }
 *   }
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface ServiceMap {}

export type IqTarget = "host" | "bare" | "self" | "full";
export interface IqOptions {
  to?: IqTarget | IqTarget[];
  priority?: number;
}

/** What an iq handler gets: the stanza event, the iq's payload, and a way to act once the reply is out. */
export interface IqEvent extends StanzaEvent {
  /** The iq's child element (the query). */
  payload: Element;
  /** Run fn right after the reply has been sent (e.g. notifications that must follow a result). */
  afterReply(fn: () => void | Promise<void>): void;
}

/**
 * An iq handler returns its reply, as xmpp.js's iq-callee: an Element is the result's payload,
 * null an empty result, a StanzaError (returned or thrown) that error; undefined leaves the iq to
 * the next handler (and to service-unavailable when none takes it). Anything else thrown is logged
 * and answered with internal-server-error.
 */
export type IqHandler = (ev: IqEvent) => IqAnswer | LaterAnswer | Promise<IqAnswer | LaterAnswer>;
export type IqAnswer = Element | null | StanzaError | undefined;

/**
 * A reply that follows later: the handler has done its work, the sender's next stanzas go on, and
 * the reply is sent when `answer` settles (a rejection other than a StanzaError is logged and
 * answered with internal-server-error), then the afterReply actions run. For replies that wait for
 * something the sender's next requests must not wait for, such as a disk sync shared by pipelined
 * publishes; the handler keeps its replies in request order by settling them in that order.
 */
export class LaterAnswer {
  constructor(readonly answer: Promise<Element | null | StanzaError>) {}
}

export interface ModuleDefinition {
  load(module: ModuleApi): void | Promise<void>;
}

export function defineModule(def: ModuleDefinition): ModuleDefinition {
  return def;
}

/** How the server finds modules by name: bin/ hands the list of modules/ to the core. */
export type ModuleRegistry = Record<string, () => Promise<{ default: ModuleDefinition }>>;
