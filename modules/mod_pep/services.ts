// One XEP-0060 service per account (XEP-0163 §1: the account's bare JID is a pubsub service),
// created on first use and kept in a bounded cache (pep_service_cache_size, as Prosody); an
// evicted service is rebuilt from storage the next time it is needed.
//
// One account never has two live services (two node caches, two sets of locks and last items):
//  - accounts with bound sessions (`pinned`) are not evicted; the cache may exceed its size by them;
//  - an evicted service that is still referenced (an operation in flight, a module holding the
//    handle it got from the "pep" service) is found again through a weak reference and put back, rather
//    than a second one built beside it.
// Sweeps (leases, pubsub#item_expire) reach the cached services and every account known to have
// expiring data: found by a scan of storage at start (scanStorage), and noted when a service with
// such data leaves the cache; such an account's service is loaded for its sweep. An account stays
// on that list while a node of it has pubsub#item_expire or a subscription of it has a lease.
//
// Each service is the one pubsub service with PEP's configuration, context and recipient filter
// (lib/pubsub/pep.ts).

import { PubsubService, type AccessOracle } from "../../src/util/pubsub/index.js";
import { jidBare, jidHost, jidNode } from "../../src/util/jid.js";
import type { Element } from "../../src/xml/stanza.js";
import { StanzaBroadcaster } from "../lib/pubsub/broadcaster.js";
import type { PubsubContext } from "../lib/pubsub/context.js";
import { Notifier } from "../lib/pubsub/notifications.js";
import { mayByModel, pepContext, pepRecipients, pepServiceConfig } from "../lib/pubsub/pep.js";
import { PEP_STORES, pepStore, type PepStorage } from "../lib/pubsub/pep-store.js";
import type { InterestTable } from "./interest.js";
import { Lru } from "../../src/util/lru.js";
import type { PostOptions } from "../../src/router/router.js";

export interface PepAccount {
  username: string;
  /** The account's bare JID: the service's address and owner. */
  jid: string;
  service: PubsubService;
  ctx: PubsubContext;
  /**
   * Send `node`'s last item to `to` (default `jid`) when the node sends it on presence
   * (pubsub#send_last_published_item = on_sub_and_presence) and `jid` may have it.
   */
  sendLastItem(node: string, jid: string, to?: string): Promise<void>;
}

export interface PepServicesOptions {
  host: string;
  storage: PepStorage;
  access: AccessOracle;
  interest: InterestTable;
  accountExists(username: string): Promise<boolean>;
  post(stanza: Element, opts?: PostOptions): Promise<void>;
  /** pep_max_items: upper bound of pubsub#max_items and the value of "max" (Prosody: 256). */
  maxItems: number;
  maxPayloadSize: number;
  cacheSize: number;
  nextId(): string;
  onError?(err: unknown): void;
  /** Keep this account's service in memory (it has bound sessions). */
  pinned?(username: string): boolean;
  /** A service was made (before anything is done with it): other modules may listen to its events. */
  onBuilt?(account: PepAccount): void;
}

export class PepServices {
  private readonly cache: Lru<string, PepAccount>;
  private readonly creating = new Map<string, Promise<PepAccount | undefined>>();
  /** Evicted services, until collected: one still in use is put back instead of built again. */
  private readonly retired = new Map<string, WeakRef<PepAccount>>();
  private readonly collected = new FinalizationRegistry<string>((username) => {
    if (this.retired.get(username)?.deref() === undefined) this.retired.delete(username);
  });
  /** Accounts (cached or not) that may hold items to expire or leases to end. */
  private readonly expiring = new Set<string>();

  constructor(private readonly opts: PepServicesOptions) {
    this.cache = new Lru(
      opts.cacheSize,
      (username, account) => this.retire(username, account),
      (username) => !(opts.pinned?.(username) ?? false),
    );
  }

  /** The account's service, or undefined when there is no such account. */
  async get(username: string): Promise<PepAccount | undefined> {
    const cached = this.cache.get(username) ?? this.revive(username);
    if (cached) return cached;
    let pending = this.creating.get(username);
    if (!pending) {
      pending = this.create(username).finally(() => this.creating.delete(username));
      this.creating.set(username, pending);
    }
    return pending;
  }

  /** The cached service, if any (no storage access). */
  peek(username: string): PepAccount | undefined {
    return this.cache.peek(username);
  }

  cached(): PepAccount[] {
    return [...this.cache.values()];
  }

  get size(): number {
    return this.cache.size;
  }

  /** Accounts the sweep visits even when their service is not in memory. */
  expiringAccounts(): string[] {
    return [...this.expiring];
  }

  forget(username: string): void {
    this.cache.delete(username);
    this.retired.delete(username);
    this.expiring.delete(username);
  }

  /**
   * Note the accounts whose stored PEP data has an end in time (a node with pubsub#item_expire, a
   * subscription with a lease), so that the sweep reaches them without their service in memory.
   */
  async scanStorage(): Promise<number> {
    const { storage } = this.opts;
    const users = new Set([
      ...(await storage.openMap(PEP_STORES.nodes).users()),
      ...(await storage.openMap(PEP_STORES.subscriptions).users()),
    ]);
    for (const username of users) {
      if (this.expiring.has(username)) continue;
      const store = pepStore(storage, username);
      for (const node of await store.listNodes()) {
        const record = await store.loadNode(node);
        const expires = typeof record?.config.itemExpire === "number";
        if (expires || (await store.loadSubscriptions(node)).some((s) => typeof s.options.expire === "number")) {
          this.expiring.add(username);
          break;
        }
      }
    }
    return this.expiring.size;
  }

  /**
   * End leases and remove expired items: on every cached service, and on the services of the
   * accounts known to have expiring data (loaded for it). Errors are reported per account.
   */
  async sweep(onError: (username: string, err: unknown) => void): Promise<void> {
    const visit = async (account: PepAccount) => {
      try {
        await account.service.sweep();
        // A sweep loads every node: the answer covers the whole service.
        if (account.service.hasExpiringData()) this.expiring.add(account.username);
        else this.expiring.delete(account.username);
      } catch (err) {
        onError(account.username, err);
      }
    };
    for (const account of this.cached()) await visit(account);
    for (const username of Array.from(this.expiring)) { // a copy: the loop changes the set
      if (this.cache.has(username)) continue;
      let account: PepAccount | undefined;
      try {
        account = await this.get(username);
      } catch (err) {
        onError(username, err);
        continue;
      }
      if (account) await visit(account);
      else this.expiring.delete(username);
    }
  }

  private retire(username: string, account: PepAccount): void {
    this.retired.set(username, new WeakRef(account));
    this.collected.register(account, username);
    if (account.service.hasExpiringData()) this.expiring.add(username);
  }

  /** An evicted service that is still alive goes back into the cache. */
  private revive(username: string): PepAccount | undefined {
    const account = this.retired.get(username)?.deref();
    if (!account) return undefined;
    this.retired.delete(username);
    this.cache.set(username, account);
    return account;
  }

  private async create(username: string): Promise<PepAccount | undefined> {
    if (!(await this.opts.accountExists(username))) return undefined;
    const raced = this.cache.peek(username) ?? this.revive(username);
    if (raced) return raced;
    const account = this.build(username);
    this.opts.onBuilt?.(account);
    this.cache.set(username, account);
    return account;
  }

  private build(username: string): PepAccount {
    const { opts } = this;
    const bare = `${username}@${opts.host}`;
    const isOwner = (jid: string) => jidBare(jid) === bare;
    const notifier = new Notifier({ from: bare, maxItems: opts.maxItems, nextId: opts.nextId });
    let service: PubsubService | undefined;
    // The component's broadcaster with PEP's recipient filter (Prosody's subscriber_filter).
    const broadcaster = new StanzaBroadcaster(notifier, {
      recipients: pepRecipients({
        interested: (node) => opts.interest.wanting(username, node),
        // An account of this host registered by its bare JID: its own resources' wishes (their caps).
        resourcesWanting: (jid, node) => {
          const account = jidNode(jid);
          return account === undefined || jidHost(jid) !== opts.host ? undefined : opts.interest.resourcesWanting(account, jid, node);
        },
        mayReceive: async (node, jid, config, deleted) => {
          if (isOwner(jid)) return true;
          if (!deleted && service) return (await service.may(node, jid, "subscribe")).ok;
          return mayByModel(config, bare, jid, opts.access);
        },
      }),
      post: opts.post,
      onError: opts.onError,
    });
    service = new PubsubService({
      store: pepStore(opts.storage, username),
      broadcaster,
      access: opts.access,
      config: pepServiceConfig(bare, opts),
    });
    const svc = service;
    const ctx = pepContext(svc, bare, broadcaster, opts.post);
    const sendLastItem = async (node: string, jid: string, to = jid): Promise<void> => {
      const meta = await svc.getNodeMeta(node, bare);
      if (!meta.ok || meta.value.config.sendLastPublishedItem !== "on_sub_and_presence") return;
      const last = await svc.getLastItem(node, jid);
      if (!last.ok || !last.value) return;
      const { id, publisher, published, payload } = last.value;
      const { config } = meta.value;
      await broadcaster.notify({
        kind: "last-item",
        node,
        item: config.deliverPayloads && payload !== undefined ? { id, publisher, published, payload } : { id, publisher, published },
        recipients: [{ jid: to, subids: [] }],
        config,
        owners: meta.value.owners,
      });
    };
    return { username, jid: bare, service: svc, ctx, sendLastItem };
  }
}
