// One XEP-0060 service per account (XEP-0163 §1: the account's bare JID is a pubsub service),
// created on first use and kept in a bounded cache (pep_service_cache_size, as Prosody); an
// evicted service is rebuilt from storage the next time it is needed.
//
// One account never has two live services (two node caches, two sets of locks and last items):
//  - accounts with bound sessions (`pinned`) are not evicted; the cache may exceed its size by them;
//  - an evicted service that is still referenced (an operation in flight, a module holding the
//    handle of "pep-get-service") is found again through a weak reference and put back, rather
//    than a second one built beside it.
// Sweeps (leases, pubsub#item_expire) reach the cached services and every account known to have
// expiring data: found by a scan of storage at start (scanStorage), and noted when a service with
// such data leaves the cache; such an account's service is loaded for its sweep. An account stays
// on that list while a node of it has pubsub#item_expire or a subscription of it has a lease.
//
// Each service: owner = the account's bare JID (acts as owner of every node, and alone may create
// nodes, as Prosody's get_affiliation/check_node_config), Prosody's PEP node defaults (one item,
// access model presence, last item on subscription and presence), auto-create on publish with the
// publish-options as the new node's configuration (§7.1.5 / XEP-0163 §3), access models open,
// presence, roster and whitelist.

import {
  PEP_NODE_DEFAULTS,
  PubsubService,
  type AccessModel,
  type AccessOracle,
  type NodeConfig,
} from "../../src/util/pubsub/index.js";
import { jidBare } from "../../src/util/jid.js";
import type { Element } from "../../src/xml/stanza.js";
import type { PubsubContext } from "../mod_pubsub/context.js";
import { Notifier } from "../mod_pubsub/notifications.js";
import { NS_PUBSUB } from "../mod_pubsub/xml.js";
import { PepBroadcaster } from "./broadcaster.js";
import type { InterestTable } from "./interest.js";
import { Lru } from "../../src/util/lru.js";
import { PEP_STORES, pepStore, type PepStorage } from "./store.js";

/** XEP-0163 §5 / Prosody: what a PEP account advertises beyond the service's own features. */
export const PEP_EXTRA_FEATURES = ["auto-subscribe", "filtered-notifications", "last-published", "presence-notifications", "presence-subscribe"].map(
  (f) => `${NS_PUBSUB}#${f}`,
);

/** Prosody's check_node_config for PEP: these four, not authorize. */
export const PEP_ACCESS_MODELS: readonly AccessModel[] = ["open", "presence", "roster", "whitelist"];

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
  post(stanza: Element): Promise<void>;
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
    const broadcaster = new PepBroadcaster(notifier, {
      interested: (node) => opts.interest.wanting(username, node),
      mayReceive: async (node, jid, config, deleted) => {
        if (isOwner(jid)) return true;
        if (!deleted && service) return (await service.may(node, jid, "subscribe")).ok;
        return mayByModel(config, bare, jid, opts.access);
      },
      post: opts.post,
      onError: opts.onError,
    });
    service = new PubsubService({
      store: pepStore(opts.storage, username),
      broadcaster,
      access: opts.access,
      config: {
        nodeDefaults: PEP_NODE_DEFAULTS,
        maxItems: opts.maxItems,
        maxPayloadSize: opts.maxPayloadSize,
        accessModels: PEP_ACCESS_MODELS,
        autocreateOnPublish: true,
        autocreateOnSubscribe: false,
        canCreate: isOwner,
        isAdmin: isOwner,
      },
    });
    const svc = service;
    const ctx: PubsubContext = {
      service: svc,
      jid: bare,
      broadcast: (event) => broadcaster.notify(event),
      send: opts.post,
      identity: { category: "pubsub", type: "pep" },
      presenceEvents: true,
      presenceAware: true,
      adhocCommands: false,
      extraFeatures: PEP_EXTRA_FEATURES,
    };
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

/** The access model's answer from a node's configuration alone (a deleted node's notification). */
async function mayByModel(config: Readonly<NodeConfig>, owner: string, jid: string, access: AccessOracle): Promise<boolean> {
  switch (config.accessModel) {
    case "open":
      return true;
    case "presence":
      return access.isSubscribedToPresence(owner, jid);
    case "roster": {
      const groups = await access.rosterGroups(owner, jid);
      return groups !== null && groups.some((g) => config.rosterGroupsAllowed.includes(g));
    }
    default:
      return false;
  }
}
