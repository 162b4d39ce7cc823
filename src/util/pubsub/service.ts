// PubsubService: a pure XEP-0060 service. No XML and no I/O of its own: the store, the broadcaster
// and the access oracle are injected; items are opaque. Every operation takes the requesting JID
// (`actor`, full or bare) and returns a Result; a mutating operation resolves only after its store
// writes have resolved (a publish is acknowledged only once durable), and notifications are handed
// to the broadcaster before it resolves (Prosody sends them before the IQ result).
//
// Decisions (see also the comments at each rule):
// - Items are returned oldest first (publish order), as Prosody does; max_items gives the N newest,
//   still oldest first; RSM pages that same order (`before: ""` = the last page).
// - Re-subscribing with the same options returns the existing subscription (no duplicate subid);
//   different options create another subscription (multi-subscribe).
// - retract: notify true/false wins; unspecified follows pubsub#notify_retract. Purge notifies when
//   notify_retract is on. Publish notifications follow deliver_notifications; the broadcaster is
//   called even with no subscribers (PEP adds +notify recipients of its own).
// - Node existence is checked before access (item-not-found before forbidden).

import { copyNodeConfig, resolveServiceConfig } from "./config.js";
import { jidBare } from "../jid.js";
import { ServiceCore } from "./core.js";
import type { Capability } from "./acl.js";
import { fail, ok } from "./errors.js";
import type { PubsubEventBus } from "./bus.js";
import {
  getOwnAffiliations,
  getNodeAffiliations as listNodeAffiliations,
  setNodeAffiliations,
} from "./affiliations.js";
import { getItem, getItems, getLastItem, publish, purge, retract } from "./items.js";
import { createNode, deleteNode, getNodeConfig, getNodeMeta, listNodes, setNodeConfig } from "./nodes.js";
import { DEFAULT_SUBSCRIPTION_OPTIONS } from "./options.js";
import {
  answerPending,
  getNodeSubscriptions,
  getPending,
  getPendingNodes,
  setNodeSubscriptions,
} from "./owner-subscriptions.js";
import { onAvailable, onUnavailable, sweep } from "./presence.js";
import type { PubsubStore } from "./store.js";
import {
  getOwnSubscriptions,
  getSubscriptionOptions,
  setSubscriptionOptions,
  subscribe,
  unsubscribe,
} from "./subscriptions.js";
import type {
  AccessOracle,
  Affiliation,
  AffiliationChange,
  Broadcaster,
  ItemPage,
  ItemQuery,
  NodeConfig,
  NodeList,
  NodeMeta,
  PublishItem,
  PublishOutcome,
  ResolvedServiceConfig,
  Result,
  RsmQuery,
  ServiceConfig,
  StoredItem,
  SubscribeOutcome,
  Subscription,
  SubscriptionChange,
  SubscriptionOptions,
} from "./types.js";

export interface PubsubServiceDeps {
  store: PubsubStore;
  broadcaster: Broadcaster;
  config?: ServiceConfig;
  access: AccessOracle;
  /** ms since the epoch (default Date.now) */
  clock?: () => number;
  /** Ids of instant nodes, items and subscriptions (default crypto.randomUUID). */
  generateId?: () => string;
}

export class PubsubService {
  private readonly core: ServiceCore;

  constructor(deps: PubsubServiceDeps) {
    this.core = new ServiceCore({
      store: deps.store,
      broadcaster: deps.broadcaster,
      config: resolveServiceConfig(deps.config),
      access: deps.access,
      clock: deps.clock ?? Date.now,
      generateId: deps.generateId ?? (() => crypto.randomUUID()),
    });
  }

  /** The service's own event bus ("item-published", "item-published/<node>", ...). */
  get events(): PubsubEventBus {
    return this.core.bus;
  }

  get config(): Readonly<ResolvedServiceConfig> {
    return this.core.config;
  }

  // ---- discovery (§5) ---------------------------------------------------------------------------

  listNodes(actor: string, rsm?: RsmQuery): Promise<Result<NodeList>> {
    return listNodes(this.core, actor, rsm);
  }

  getNodeMeta(node: string, actor: string): Promise<Result<NodeMeta>> {
    return getNodeMeta(this.core, node, actor);
  }

  /** Decide a §4.1 capability for `actor` on `node` (e.g. may a PEP +notify peer receive items?). */
  async may(node: string, actor: string, capability: Capability): Promise<Result<Affiliation>> {
    const state = await this.core.load(node);
    if (!state) return fail("item-not-found");
    return this.core.check(state, actor, capability);
  }

  // ---- nodes (§8.1-8.4) -----------------------------------------------------------------------

  /** `node` undefined or "": an instant node; the value names the node created. */
  create(node: string | undefined, actor: string, config?: Partial<NodeConfig>): Promise<Result<{ node: string }>> {
    return createNode(this.core, node, actor, config);
  }

  delete(node: string, actor: string, redirect?: string): Promise<Result<void>> {
    return deleteNode(this.core, node, actor, redirect);
  }

  getConfig(node: string, actor: string): Promise<Result<NodeConfig>> {
    return getNodeConfig(this.core, node, actor);
  }

  setConfig(node: string, actor: string, config: Partial<NodeConfig>): Promise<Result<NodeConfig>> {
    return setNodeConfig(this.core, node, actor, config);
  }

  /** §8.3 */
  getDefaultConfig(): NodeConfig {
    return copyNodeConfig(this.core.config.nodeDefaults);
  }

  /** §6.4 */
  getDefaultSubscriptionOptions(): SubscriptionOptions {
    return { ...DEFAULT_SUBSCRIPTION_OPTIONS };
  }

  // ---- items (§6.5, §7, §8.5) -----------------------------------------------------------------

  /**
   * §7.1. `item` undefined: the request had no <item/> (only right for notification-only transient
   * nodes). `publishOptions`: the publish-options form values by variable (§7.1.5).
   */
  publish(
    node: string,
    actor: string,
    id: string | undefined,
    item: PublishItem | undefined,
    publishOptions?: Readonly<Record<string, string | string[]>>,
  ): Promise<Result<PublishOutcome>> {
    return publish(this.core, node, actor, id, item, publishOptions);
  }

  retract(node: string, actor: string, id: string, notify?: boolean): Promise<Result<void>> {
    return retract(this.core, node, actor, id, notify);
  }

  purge(node: string, actor: string): Promise<Result<void>> {
    return purge(this.core, node, actor);
  }

  getItems(node: string, actor: string, query?: ItemQuery): Promise<Result<ItemPage>> {
    return getItems(this.core, node, actor, query);
  }

  getItem(node: string, actor: string, id: string): Promise<Result<StoredItem>> {
    return getItem(this.core, node, actor, id);
  }

  getLastItem(node: string, actor: string): Promise<Result<StoredItem | undefined>> {
    return getLastItem(this.core, node, actor);
  }

  // ---- subscriptions (§6.1-6.4, §8.6-8.8) -----------------------------------------------------

  subscribe(
    node: string,
    actor: string,
    jid: string,
    options?: Partial<SubscriptionOptions>,
  ): Promise<Result<SubscribeOutcome>> {
    return subscribe(this.core, node, actor, jid, options);
  }

  unsubscribe(node: string, actor: string, jid: string, subid?: string): Promise<Result<Subscription>> {
    return unsubscribe(this.core, node, actor, jid, subid);
  }

  getSubscriptionOptions(node: string, actor: string, jid: string, subid?: string): Promise<Result<Subscription>> {
    return getSubscriptionOptions(this.core, node, actor, jid, subid);
  }

  setSubscriptionOptions(
    node: string,
    actor: string,
    jid: string,
    options: Partial<SubscriptionOptions>,
    subid?: string,
  ): Promise<Result<Subscription>> {
    return setSubscriptionOptions(this.core, node, actor, jid, options, subid);
  }

  /** §5.6: the actor's own subscriptions (every JID with its bare JID), on one node or all. */
  getSubscriptions(node: string | undefined, actor: string): Promise<Result<Subscription[]>> {
    return getOwnSubscriptions(this.core, node, actor);
  }

  getNodeSubscriptions(
    node: string,
    actor: string,
    options?: { includePending?: boolean },
  ): Promise<Result<Subscription[]>> {
    return getNodeSubscriptions(this.core, node, actor, options);
  }

  setSubscriptions(node: string, actor: string, changes: readonly SubscriptionChange[]): Promise<Result<void>> {
    return setNodeSubscriptions(this.core, node, actor, changes);
  }

  getPending(node: string, actor: string): Promise<Result<Subscription[]>> {
    return getPending(this.core, node, actor);
  }

  getPendingNodes(actor: string): Promise<Result<string[]>> {
    return getPendingNodes(this.core, actor);
  }

  answerPending(node: string, actor: string, jid: string, allow: boolean, subid?: string): Promise<Result<void>> {
    return answerPending(this.core, node, actor, jid, allow, subid);
  }

  // ---- affiliations (§5.7, §8.9) --------------------------------------------------------------

  getAffiliations(
    node: string | undefined,
    actor: string,
  ): Promise<Result<Array<{ node: string; affiliation: Affiliation }>>> {
    return getOwnAffiliations(this.core, node, actor);
  }

  getNodeAffiliations(node: string, actor: string): Promise<Result<Array<{ jid: string; affiliation: Affiliation }>>> {
    return listNodeAffiliations(this.core, node, actor);
  }

  setAffiliations(node: string, actor: string, changes: readonly AffiliationChange[]): Promise<Result<void>> {
    return setNodeAffiliations(this.core, node, actor, changes);
  }

  // ---- presence and time ----------------------------------------------------------------------

  /** Available presence from `jid`: last items for on_sub_and_presence nodes. */
  onAvailable(jid: string): Promise<void> {
    return onAvailable(this.core, jid);
  }

  /** Unavailable presence from `jid`: ends its pubsub#expire = presence subscriptions. */
  onUnavailable(jid: string): Promise<void> {
    return onUnavailable(this.core, jid);
  }

  /**
   * The nodes where some address of `jid`'s bare JID holds a subscription (any state), by name:
   * the index the presence hooks use instead of scanning every node.
   */
  async subscribedNodes(jid: string): Promise<string[]> {
    await this.core.loadEverything();
    return this.core.nodesSubscribedBy(jidBare(jid)).map((s) => s.name);
  }

  /**
   * Does any loaded node have data with an end in time (pubsub#item_expire, or a subscription
   * lease)? After sweep() every node is loaded, so the answer covers the whole service.
   */
  hasExpiringData(): boolean {
    return this.core.hasExpiringData();
  }

  /** End leases that are over and remove expired items (call from a timer). */
  sweep(): Promise<void> {
    return sweep(this.core);
  }

  /** Load every node now rather than on first use. */
  async warm(): Promise<Result<number>> {
    return ok((await this.core.loadAll()).length);
  }
}
