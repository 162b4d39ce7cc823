// A host: a VirtualHost (accounts, client sessions) or a Component (a service such as pubsub).
// Each has its own event bus, its own options, its own set of modules and disco items.

import { EventBus } from "../events/bus.js";
import type { ClientSession, StanzaSink } from "../sessions/session.js";
import type { Logger } from "../util/logger.js";
import type { OptionReader } from "../config/options.js";

export type HostKind = "local" | "component";

export interface Identity {
  category: string;
  type: string;
  name?: string;
}

/** Disco#info contributions, reference-counted per owner so unloading a module removes its own. */
export class DiscoInfo {
  private features = new Map<string, Set<string>>(); // feature -> owners
  private identities: Array<Identity & { owner: string }> = [];
  private extensions: Array<{ owner: string; form: () => unknown }> = [];

  addFeature(owner: string, feature: string): void {
    const owners = this.features.get(feature) ?? new Set();
    owners.add(owner);
    this.features.set(feature, owners);
  }
  addIdentity(owner: string, id: Identity): void {
    this.identities.push({ ...id, owner });
  }
  addExtension(owner: string, form: () => unknown): void {
    this.extensions.push({ owner, form });
  }
  removeOwner(owner: string): void {
    for (const [f, owners] of this.features) {
      owners.delete(owner);
      if (owners.size === 0) this.features.delete(f);
    }
    this.identities = this.identities.filter((i) => i.owner !== owner);
    this.extensions = this.extensions.filter((e) => e.owner !== owner);
  }
  listFeatures(): string[] {
    return [...this.features.keys()].sort();
  }
  listIdentities(): Identity[] {
    return this.identities.map(({ category, type, name }) => (name === undefined ? { category, type } : { category, type, name }));
  }
  listExtensions(): unknown[] {
    return this.extensions.map((e) => e.form());
  }
}

export class Host {
  readonly bus: EventBus;
  /** Client sessions by username, then by resource (local hosts only). */
  readonly users = new Map<string, Map<string, ClientSession>>();
  readonly disco = new DiscoInfo();
  /** Disco items of the host (components, services): jid -> name. */
  readonly discoItems = new Map<string, { name?: string; owner: string }>();
  /** Names of the modules loaded on this host. */
  readonly modules = new Set<string>();
  /**
   * An external component (XEP-0114), `Component "name"` without a module: the authenticated
   * component stream that serves this domain while it is connected.
   */
  component?: StanzaSink;

  constructor(
    readonly name: string,
    readonly kind: HostKind,
    /** Replaced by the shell's config:reload(). */
    public options: OptionReader,
    readonly log: Logger,
    /** For components: the module that provides the service ("pubsub"). */
    readonly componentModule?: string,
  ) {
    this.bus = new EventBus(log);
  }

  /** `Component "name"` without a module: served by an external component connecting over XEP-0114. */
  get external(): boolean {
    return this.kind === "component" && this.componentModule === undefined;
  }

  /** All bound sessions of a user. */
  sessionsOf(username: string): ClientSession[] {
    const m = this.users.get(username);
    return m ? [...m.values()] : [];
  }

  session(username: string, resource: string): ClientSession | undefined {
    return this.users.get(username)?.get(resource);
  }

  addSession(s: ClientSession): void {
    let m = this.users.get(s.username!);
    if (!m) {
      m = new Map();
      this.users.set(s.username!, m);
    }
    m.set(s.resource!, s);
  }

  removeSession(s: ClientSession): void {
    const m = this.users.get(s.username!);
    if (!m || m.get(s.resource!) !== s) return;
    m.delete(s.resource!);
    if (m.size === 0) this.users.delete(s.username!);
  }

  *allSessions(): Iterable<ClientSession> {
    for (const m of this.users.values()) yield* m.values();
  }
}
