// The shared machinery of the service: the in-memory node cache (a node's configuration,
// affiliations and subscriptions stay in memory after the first load; the store is the durable
// copy), per-node serialisation of changes, access decisions, fan-out lists and event delivery.

import { jidBare } from "../jid.js";
import { checkCapability, type AccessFacts, type Capability } from "./acl.js";
import { copyNodeConfig, itemLifetimeMs } from "./config.js";
import { ok } from "./errors.js";
import { leaseExpired } from "./options.js";
import type { PubsubBusEventName } from "./bus.js";
import { PubsubEventBus } from "./bus.js";
import type { PubsubStore } from "./store.js";
import type {
  AccessOracle,
  Affiliation,
  Broadcaster,
  NodeConfig,
  NodeRecord,
  PubsubEvent,
  Recipient,
  ResolvedServiceConfig,
  Result,
  StoredItem,
  Subscription,
  SubscriptionState,
} from "./types.js";
import { KeyedLock } from "../keyed-lock.js";
import { SubscriptionTable } from "./subscription-table.js";

export interface NodeState {
  name: string;
  config: NodeConfig;
  /** bare JID -> affiliation (never "none") */
  affiliations: Map<string, Affiliation>;
  /** subid -> subscription, in creation order, indexed by JID and bare JID (subscription-table.ts) */
  subscriptions: SubscriptionTable;
  creator?: string;
  created: number;
  /** The newest item: undefined = not looked up yet, null = none. Transient nodes keep it only here. */
  lastItem?: StoredItem | null;
}

export interface CoreDeps {
  store: PubsubStore;
  broadcaster: Broadcaster;
  config: ResolvedServiceConfig;
  access: AccessOracle;
  clock: () => number;
  generateId: () => string;
}

const BUS_NAMES: Record<PubsubEvent["kind"], PubsubBusEventName | undefined> = {
  items: "item-published",
  "last-item": undefined,
  retract: "item-retracted",
  purge: "node-purged",
  delete: "node-deleted",
  configuration: "node-configured",
  subscription: "subscription-changed",
  "authorization-request": "subscription-pending",
  affiliation: "affiliation-changed",
};

export class ServiceCore {
  readonly store: PubsubStore;
  readonly broadcaster: Broadcaster;
  readonly config: ResolvedServiceConfig;
  readonly access: AccessOracle;
  readonly clock: () => number;
  readonly generateId: () => string;
  readonly bus = new PubsubEventBus();

  private readonly nodes = new Map<string, NodeState>();
  private readonly loading = new Map<string, Promise<NodeState | undefined>>();
  private readonly locks = new KeyedLock<string>();
  private allLoaded = false;
  /**
   * bare JID -> node -> how many subscriptions (any state) that bare JID's addresses hold there.
   * Covers the cached nodes (all of them once loadAll ran); the presence hooks look only here.
   */
  private readonly bySubscriber = new Map<string, Map<string, number>>();
  /** A node's affiliation list -> its owners (see owners()). */
  private readonly ownersOf = new WeakMap<ReadonlyMap<string, Affiliation>, string[]>();

  constructor(deps: CoreDeps) {
    this.store = deps.store;
    this.broadcaster = deps.broadcaster;
    this.config = deps.config;
    this.access = deps.access;
    this.clock = deps.clock;
    this.generateId = deps.generateId;
  }

  /** Run `fn` after every earlier locked call on the same node has settled. */
  withLock<T>(node: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(node, fn);
  }

  /** The node's state, loading it (record and subscriptions) on first use. */
  async load(node: string): Promise<NodeState | undefined> {
    const cached = this.nodes.get(node);
    if (cached) return cached;
    let pending = this.loading.get(node);
    if (!pending) {
      pending = this.loadFromStore(node).finally(() => this.loading.delete(node));
      this.loading.set(node, pending);
    }
    return pending;
  }

  private async loadFromStore(node: string): Promise<NodeState | undefined> {
    const record = await this.store.loadNode(node);
    if (!record) return undefined;
    const subs = await this.store.loadSubscriptions(node);
    const state: NodeState = {
      name: record.name,
      config: copyNodeConfig(record.config),
      affiliations: new Map(Object.entries(record.affiliations)),
      subscriptions: new SubscriptionTable(subs.map((s) => ({ ...s, node }))),
      creator: record.creator,
      created: record.created,
    };
    const raced = this.nodes.get(node);
    if (raced) return raced;
    this.nodes.set(node, state);
    this.indexNode(state, 1);
    return state;
  }

  /** Every node, loaded (for cross-node questions: own subscriptions, presence hooks, sweeps). */
  async loadAll(): Promise<NodeState[]> {
    if (!this.allLoaded) {
      for (const name of await this.store.listNodes()) await this.load(name);
      this.allLoaded = true;
    }
    return [...this.nodes.values()];
  }

  /** Every node loaded, so that the cache (and the subscriber index) covers the whole service. */
  async loadEverything(): Promise<void> {
    if (!this.allLoaded) await this.loadAll();
  }

  /** Register a node created by this service. */
  adopt(state: NodeState): void {
    const previous = this.nodes.get(state.name);
    if (previous === state) return;
    if (previous) this.indexNode(previous, -1);
    this.nodes.set(state.name, state);
    this.indexNode(state, 1);
  }

  forget(node: string): void {
    const state = this.nodes.get(node);
    if (!state) return;
    this.nodes.delete(node);
    this.indexNode(state, -1);
  }

  /** Some cached node expires items, or holds a subscription with a lease. */
  hasExpiringData(): boolean {
    for (const state of this.nodes.values()) {
      if (itemLifetimeMs(state.config, this.config) !== undefined) return true;
      for (const sub of state.subscriptions.values()) if (typeof sub.options.expire === "number") return true;
    }
    return false;
  }

  // ---- the subscriber index -------------------------------------------------------------------

  private indexOne(bare: string, node: string, delta: number): void {
    let nodes = this.bySubscriber.get(bare);
    if (!nodes) {
      if (delta <= 0) return;
      nodes = new Map();
      this.bySubscriber.set(bare, nodes);
    }
    const n = (nodes.get(node) ?? 0) + delta;
    if (n > 0) nodes.set(node, n);
    else {
      nodes.delete(node);
      if (nodes.size === 0) this.bySubscriber.delete(bare);
    }
  }

  private indexNode(state: NodeState, delta: 1 | -1): void {
    for (const sub of state.subscriptions.values()) this.indexOne(jidBare(sub.jid), state.name, delta);
  }

  /** Is this the cached state of its node (not a deleted node's leftover)? */
  private isCurrent(state: NodeState): boolean {
    return this.nodes.get(state.name) === state;
  }

  /** Add or replace a subscription in the node's state (memory only; the caller stores it). */
  putSubscription(state: NodeState, sub: Subscription): void {
    const previous = state.subscriptions.get(sub.subid);
    state.subscriptions.set(sub.subid, sub);
    if (!this.isCurrent(state)) return;
    if (previous) this.indexOne(jidBare(previous.jid), state.name, -1);
    this.indexOne(jidBare(sub.jid), state.name, 1);
  }

  /** Remove a subscription from the node's state (memory only). */
  dropSubscription(state: NodeState, subid: string): void {
    const previous = state.subscriptions.get(subid);
    if (!previous) return;
    state.subscriptions.delete(subid);
    if (this.isCurrent(state)) this.indexOne(jidBare(previous.jid), state.name, -1);
  }

  /**
   * The cached nodes where some address of `bare` holds a subscription (call loadEverything first
   * for an answer about the whole service), in name order.
   */
  nodesSubscribedBy(bare: string): NodeState[] {
    const names = this.bySubscriber.get(bare);
    if (!names) return [];
    const out: NodeState[] = [];
    for (const name of [...names.keys()].sort()) {
      const state = this.nodes.get(name);
      if (state) out.push(state);
    }
    return out;
  }

  async nodeCount(): Promise<number> {
    return this.allLoaded ? this.nodes.size : (await this.store.listNodes()).length;
  }

  toRecord(state: NodeState): NodeRecord {
    const record: NodeRecord = {
      name: state.name,
      config: copyNodeConfig(state.config),
      affiliations: Object.fromEntries(state.affiliations),
      created: state.created,
    };
    if (state.creator !== undefined) record.creator = state.creator;
    return record;
  }

  /**
   * Write the node record with the proposed configuration and/or affiliations, and only once the
   * write has resolved, adopt them in memory (a failed write leaves memory as the store has it).
   */
  async commitRecord(
    state: NodeState,
    proposed: { config?: NodeConfig; affiliations?: Map<string, Affiliation> } = {},
  ): Promise<void> {
    await this.store.saveNode(this.toRecord({ ...state, ...proposed }));
    if (proposed.config) state.config = proposed.config;
    if (proposed.affiliations) state.affiliations = proposed.affiliations;
  }

  async saveSubscription(sub: Subscription): Promise<void> {
    const { node, ...record } = sub;
    await this.store.saveSubscription(node, record);
  }

  // ---- access ---------------------------------------------------------------------------------

  async isAdmin(jid: string): Promise<boolean> {
    return this.config.isAdmin(jidBare(jid));
  }

  /** The entity's affiliation: service admins are owners; otherwise the node's list (bare JID). */
  async affiliationOf(state: NodeState, jid: string): Promise<Affiliation> {
    if (await this.isAdmin(jid)) return "owner";
    return state.affiliations.get(jidBare(jid)) ?? "none";
  }

  /**
   * The node's owners (bare JIDs), computed once per affiliation list: the list is replaced, never
   * changed in place (commitRecord), so a node with many members is not walked for every event.
   */
  owners(state: NodeState): string[] {
    let owners = this.ownersOf.get(state.affiliations);
    if (!owners) {
      owners = [...state.affiliations].filter(([, a]) => a === "owner").map(([j]) => j);
      this.ownersOf.set(state.affiliations, owners);
    }
    return [...owners];
  }

  /** Subscriptions of exactly this JID (the node's index: no walk over the other subscribers). */
  subscriptionsOf(state: NodeState, jid: string): Subscription[] {
    return state.subscriptions.ofJid(jid);
  }

  /**
   * Does the entity (this JID, or its bare JID) hold a live subscription, subscribed or unconfigured
   * (an unconfigured one is a subscription whose options are still to be set, §4.2; a pending one
   * is not a subscription yet, §6.5.3)?
   */
  isSubscribed(state: NodeState, jid: string): boolean {
    const bare = jidBare(jid);
    const now = this.clock();
    const live = (s: Subscription) => s.state !== "pending" && !leaseExpired(s.options, now);
    if (state.subscriptions.ofJid(jid).some(live)) return true;
    return bare !== jid && state.subscriptions.ofJid(bare).some(live);
  }

  facts(state: NodeState, jid: string): AccessFacts {
    const owners = this.owners(state);
    return {
      accessModel: state.config.accessModel,
      isSubscribed: () => this.isSubscribed(state, jid),
      hasPresenceSubscription: async () => {
        if (owners.includes(jidBare(jid))) return true;
        for (const owner of owners) if (await this.access.isSubscribedToPresence(owner, jid)) return true;
        return false;
      },
      inAllowedRosterGroup: async () => {
        if (owners.includes(jidBare(jid))) return true;
        const allowed = state.config.rosterGroupsAllowed;
        for (const owner of owners) {
          const groups = await this.access.rosterGroups(owner, jid);
          if (groups?.some((g) => allowed.includes(g))) return true;
        }
        return false;
      },
    };
  }

  /** Check a capability; on success, the entity's affiliation. */
  async check(state: NodeState, jid: string, capability: Capability): Promise<Result<Affiliation>> {
    const affiliation = await this.affiliationOf(state, jid);
    const decided = await checkCapability(affiliation, capability, this.facts(state, jid));
    return decided.ok ? ok(affiliation) : decided;
  }

  // ---- fan-out --------------------------------------------------------------------------------

  /**
   * Who gets a notification now: live subscriptions in state subscribed with deliver on (§4.2: never
   * pending ones; unconfigured ones wait until the subscriber has configured them, §6.1.6),
   * grouped by JID; presence_based_delivery and show-values asked of the oracle only when set.
   * Expired leases found on the way are ended.
   */
  async recipients(state: NodeState): Promise<Recipient[]> {
    const now = this.clock();
    const live: Subscription[] = [];
    const expired: Subscription[] = [];
    let needsPresence = false;
    for (const sub of state.subscriptions.values()) {
      if (sub.state === "pending") continue;
      if (leaseExpired(sub.options, now)) expired.push(sub);
      else if (sub.state === "subscribed" && sub.options.deliver) {
        live.push(sub);
        if (sub.options.showValues) needsPresence = true;
      }
    }
    for (const sub of expired) await this.endSubscription(state, sub);
    let deliverable = live;
    if (needsPresence || state.config.presenceBasedDelivery) deliverable = await this.filterByPresence(state, live);
    const byJid = new Map<string, Recipient>();
    for (const sub of deliverable) {
      const r = byJid.get(sub.jid);
      if (r) {
        r.subids.push(sub.subid);
        if (sub.options.includeBody) r.includeBody = true;
      } else {
        byJid.set(sub.jid, { jid: sub.jid, subids: [sub.subid], includeBody: sub.options.includeBody });
      }
    }
    return [...byJid.values()];
  }

  /** Ask the oracle once per distinct JID, all at once, then filter. */
  private async filterByPresence(state: NodeState, subs: Subscription[]): Promise<Subscription[]> {
    const { isAvailable, presenceShow } = this.access;
    const byAvailability = state.config.presenceBasedDelivery && isAvailable !== undefined;
    const jids = [...new Set(subs.map((s) => s.jid))];
    const [available, shows] = await Promise.all([
      byAvailability ? Promise.all(jids.map((j) => isAvailable.call(this.access, j))) : undefined,
      presenceShow && subs.some((s) => s.options.showValues)
        ? Promise.all(jids.map((j) => presenceShow.call(this.access, j)))
        : undefined,
    ]);
    const index = new Map(jids.map((j, i) => [j, i]));
    return subs.filter((sub) => {
      const i = index.get(sub.jid) ?? 0;
      if (available && !available[i]) return false;
      if (sub.options.showValues && shows) {
        const show = shows[i];
        if (show === undefined || !sub.options.showValues.includes(show)) return false;
      }
      return true;
    });
  }

  /**
   * Remove a subscription (durably). The subscriber is told its state is now none (§8.8.4),
   * unless `tellSubscriber` is false; then only the owners hear of it, if pubsub#notify_sub.
   */
  async endSubscription(state: NodeState, sub: Subscription, tellSubscriber = true): Promise<void> {
    await this.store.deleteSubscription(state.name, sub.subid);
    this.dropSubscription(state, sub.subid);
    if (tellSubscriber) await this.emitSubscription(state, sub, "none", "subscriber");
    else await this.emitSubscription(state, sub, "none", "owners", state.config.notifySub);
  }

  /** XEP-0060 §8.8.4 (to the subscriber) or pubsub#notify_sub (to the owners). */
  async emitSubscription(
    state: NodeState,
    sub: Subscription,
    newState: SubscriptionState,
    audience: "subscriber" | "owners",
    broadcast = true,
  ): Promise<void> {
    const owners = this.owners(state);
    const recipients =
      audience === "subscriber" ? [{ jid: sub.jid, subids: [sub.subid] }] : owners.map((jid) => ({ jid, subids: [] }));
    await this.emit({
      kind: "subscription",
      node: state.name,
      recipients,
      config: this.snapshot(state),
      owners,
      audience,
      jid: sub.jid,
      subid: sub.subid,
      state: newState,
      ...(sub.options.expire !== undefined ? { expire: sub.options.expire } : {}),
    }, broadcast);
  }

  /** Hand an event to the broadcaster, then announce it on the bus. */
  async emit(event: PubsubEvent, broadcast = true): Promise<void> {
    if (broadcast) await this.broadcaster.notify(event);
    const name = BUS_NAMES[event.kind];
    if (name) this.bus.emit(name, event.node, event as never);
  }

  /** A frozen snapshot of the configuration, for events. */
  snapshot(state: NodeState): Readonly<NodeConfig> {
    return Object.freeze(copyNodeConfig(state.config));
  }
}
