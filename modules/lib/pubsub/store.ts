// The pubsub service's PubsubStore over Herald's generic stores (LevelDB in production, memory in
// tests): node records in a keyval store (user = node), subscriptions in a map store (user = node,
// key = subid), items in an archive (user = node, id = item id, with = publisher, when = publish
// time). Every write resolves once durable (the LevelDB driver syncs), so a publish is answered
// only after its item is on disk. Payload elements are kept as a compact JSON tree (xml.ts).
//
// Where the records live is a PubsubLayout: the component's (componentLayout: one keyval, one map
// and one archive, user = node, `prefix` scoping one service's data inside shared stores) or PEP's
// (pep-store.ts: per account, Prosody's store names).
//
// `writeBehind` (the component uses it): appendItem only queues the item and resolves at once, so
// the service's per-node lock is not held across the fsync; the node's queued items go to the
// archive together (appendMany: one synced batch per round, whatever the number of publishes that
// arrived while the previous round was being synced). Reads and other item writes of a node wait
// for its queue first (read your writes). The caller learns of durability through mark()/durable():
// mod_pubsub sends a publish's IQ result, and its notifications, only once durable() resolved.
// Subscription writes (subscribe, unsubscribe, options, owner changes) are written behind the same
// way: a node's queued subscription writes go out as one synced setMany per round, so subscribers
// arriving together share a sync instead of each holding the node's lock across its own.

import type { ItemDeleteQuery, ItemListQuery, NodeRecord, PubsubStore, StoredItem, SubscriptionRecord } from "../../../src/util/pubsub/index.js";
import { isItemNotFound, type AppendOptions, type ArchiveItem, type ArchiveQuery, type ArchiveStore, type Json, type KeyvalStore, type MapStore } from "../../../src/storage/types.js";
import { Element } from "../../../src/xml/stanza.js";
import { elementFromJson, elementToJson } from "../../../src/xml/json.js";

export interface PubsubStores {
  nodes: KeyvalStore<Json>;
  subscriptions: MapStore<Json>;
  items: ArchiveStore<Json>;
}

/** One node's item archive. */
export interface NodeItems {
  append(value: Json, options: AppendOptions): Promise<unknown>;
  appendMany(entries: Array<{ value: Json; options: AppendOptions }>, options: { keep?: number }): Promise<unknown>;
  find(query: ArchiveQuery): Promise<ArchiveItem<Json>[]>;
  get(id: string): Promise<ArchiveItem<Json> | undefined>;
  count(): Promise<number>;
  delete(query?: { ids?: string[]; end?: number }): Promise<number>;
  truncate(keep: number): Promise<number>;
}

/** Where one service's records are kept: node records, each node's subscriptions (by subid) and items. */
export interface PubsubLayout {
  nodeNames(): Promise<string[]>;
  getNode(node: string): Promise<Json | undefined>;
  setNode(node: string, value: Json | undefined): Promise<void>;
  subscriptions(node: string): Promise<Map<string, Json>>;
  setSubscription(node: string, subid: string, value: Json | undefined): Promise<void>;
  /** Several subscription writes of one node in one atomic, durable write (undefined deletes; later entries win). */
  setSubscriptions(node: string, entries: Array<[subid: string, value: Json | undefined]>): Promise<void>;
  clearSubscriptions(node: string): Promise<void>;
  items(node: string): NodeItems;
}

/** The component's layout: node name (after `prefix`) as the user of each store. */
export function componentLayout(stores: PubsubStores, prefix = ""): PubsubLayout {
  const key = (node: string) => prefix + node;
  return {
    async nodeNames() {
      const users = await stores.nodes.users();
      return prefix === "" ? users : users.filter((u) => u.startsWith(prefix)).map((u) => u.slice(prefix.length));
    },
    getNode: (node) => stores.nodes.get(key(node)),
    setNode: (node, value) => stores.nodes.set(key(node), value),
    subscriptions: (node) => stores.subscriptions.getAll(key(node)),
    setSubscription: (node, subid, value) => stores.subscriptions.set(key(node), subid, value),
    setSubscriptions: (node, entries) => stores.subscriptions.setMany(key(node), entries),
    clearSubscriptions: (node) => stores.subscriptions.clear(key(node)),
    items(node) {
      const k = key(node);
      const a = stores.items;
      return {
        append: (value, options) => a.append(k, value, options),
        appendMany: (entries, options) => a.appendMany(k, entries, options),
        find: (query) => a.find(k, query),
        get: (id) => a.get(k, id),
        count: () => a.count(k),
        delete: (query) => a.delete(k, query),
        truncate: (keep) => a.truncate(k, keep),
      };
    },
  };
}

/** The store names a component uses (Prosody: pubsub_nodes / pubsub_<node> archives). */
export const STORE_NAMES = { nodes: "pubsub_nodes", subscriptions: "pubsub_subscriptions", items: "pubsub_items" } as const;

/** A queued write: its ticket (mark/durable) and how to settle the caller's promise. */
interface Queued {
  ticket: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface QueuedAppend extends Queued {
  value: Json;
  options: AppendOptions;
  keep: number | undefined;
}

interface QueuedSubscription extends Queued {
  subid: string;
  value: Json | undefined;
}

/**
 * Per-node queues whose writes go out in rounds: while one round is being written, the entries
 * queued meanwhile wait, and the next round writes (up to) all of them at once.
 */
class RoundQueues<E extends Queued> {
  private readonly queues = new Map<string, { entries: E[]; last: Promise<void>; running: boolean }>();

  constructor(
    /** Write one round; it succeeds or fails as a whole. */
    private readonly write: (node: string, round: E[]) => Promise<unknown>,
    /** How many of the queued entries the next round takes (at least 1). */
    private readonly take: (queued: E[]) => number,
    private readonly settle: (round: E[], error?: unknown) => void,
  ) {}

  /** Resolves once everything queued for the node so far has been written (or failed). */
  async settled(node: string): Promise<void> {
    const q = this.queues.get(node);
    if (q) await q.last;
  }

  /** Queue an entry; `settled` is its write's promise, never rejecting. */
  push(node: string, entry: E, settled: Promise<void>): void {
    let q = this.queues.get(node);
    if (!q) {
      q = { entries: [], last: Promise.resolve(), running: false };
      this.queues.set(node, q);
    }
    q.entries.push(entry);
    q.last = settled;
    if (!q.running) void this.flush(node, q);
  }

  private async flush(node: string, q: { entries: E[]; running: boolean }): Promise<void> {
    q.running = true;
    while (q.entries.length > 0) {
      const round = q.entries.splice(0, this.take(q.entries));
      try {
        await this.write(node, round);
        this.settle(round);
      } catch (error) {
        this.settle(round, error ?? new Error("write failed"));
      }
    }
    q.running = false;
    if (this.queues.get(node) === q && q.entries.length === 0) this.queues.delete(node);
  }
}

/** Failed tickets remembered for durable() (failures are rare: a disk or database error). */
const FAILED_MAX = 10_000;

interface StoredValue {
  /** The payload element, or null for an item without payload. */
  x: Json;
}

export class HeraldPubsubStore implements PubsubStore {
  private readonly layout: PubsubLayout;
  private readonly writeBehind: boolean;
  /** Items, per node: a round is the queued appends with the same `keep`, in one appendMany. */
  private readonly itemQueues = new RoundQueues<QueuedAppend>(
    (node, round) => {
      const keep = round[0].keep;
      return this.layout.items(node).appendMany(
        round.map((g) => ({ value: g.value, options: g.options })),
        keep === undefined ? {} : { keep },
      );
    },
    (queued) => {
      let n = 1;
      while (n < queued.length && queued[n].keep === queued[0].keep) n++;
      return n;
    },
    (round, error) => this.settle(round, error),
  );
  /** Subscription writes, per node: a round is everything queued, in one setMany. */
  private readonly subscriptionQueues = new RoundQueues<QueuedSubscription>(
    (node, round) =>
      this.layout.setSubscriptions(
        node,
        round.map((g) => [g.subid, g.value]),
      ),
    (queued) => queued.length,
    (round, error) => this.settle(round, error),
  );
  /** Tickets of queued writes (items and subscriptions) not yet written, with their promise. */
  private readonly unsettled = new Map<number, Promise<void>>();
  private readonly failed: Array<{ ticket: number; error: unknown }> = [];
  private ticket = 0;

  /** Over the component's stores (componentLayout), or over any other layout (PEP's). */
  constructor(stores: PubsubStores | PubsubLayout, options: { prefix?: string; writeBehind?: boolean } = {}) {
    this.layout = "nodeNames" in stores ? stores : componentLayout(stores, options.prefix);
    this.writeBehind = options.writeBehind ?? false;
  }

  /** A position in the write-behind queue: pass it to durable() after the work it precedes. */
  mark(): number {
    return this.ticket;
  }

  /** Are writes queued and not yet written? */
  get busy(): boolean {
    return this.unsettled.size > 0;
  }

  /**
   * Resolves once every item queued after `since` (a mark()) up to now is written durably; rejects
   * with the error if any of them failed.
   */
  async durable(since: number): Promise<void> {
    const upTo = this.ticket;
    if (upTo === since) return;
    const waits: Array<Promise<void>> = [];
    for (const [t, p] of this.unsettled) if (t > since && t <= upTo) waits.push(p);
    await Promise.allSettled(waits);
    const failure = this.failed.find((f) => f.ticket > since && f.ticket <= upTo);
    if (failure) throw failure.error;
  }

  /** Resolves (true) once every item queued so far is written; false if any of them failed. */
  written(): Promise<boolean> | undefined {
    if (this.unsettled.size === 0) return undefined;
    const since = Math.min(...this.unsettled.keys()) - 1;
    return this.durable(since).then(
      () => true,
      () => false,
    );
  }

  /** Wait for the node's queued items (before reading or changing its items). */
  private settled(node: string): Promise<void> {
    return this.itemQueues.settled(node);
  }

  /** Wait for the node's queued subscription writes (before reading or clearing its subscriptions). */
  private subscriptionsSettled(node: string): Promise<void> {
    return this.subscriptionQueues.settled(node);
  }

  /** A new ticket and the promise of its write; `settled` never rejects. */
  private track<T extends Queued>(
    make: (ticket: number, resolve: () => void, reject: (err: unknown) => void) => T,
  ): { entry: T; settled: Promise<void> } {
    const ticket = ++this.ticket;
    let entry!: T;
    const written = new Promise<void>((resolve, reject) => {
      entry = make(ticket, resolve, reject);
    });
    const settled = written.then(
      () => undefined,
      () => undefined,
    );
    this.unsettled.set(ticket, settled);
    return { entry, settled };
  }

  /** Settle written (error undefined) or failed entries of either queue. */
  private settle(entries: Queued[], error?: unknown): void {
    for (const g of entries) {
      this.unsettled.delete(g.ticket);
      if (error === undefined) g.resolve();
      else {
        this.failed.push({ ticket: g.ticket, error });
        g.reject(error);
      }
    }
    if (this.failed.length > FAILED_MAX) this.failed.splice(0, this.failed.length - FAILED_MAX);
  }

  private enqueueSubscription(node: string, subid: string, value: Json | undefined): void {
    const { entry, settled } = this.track((ticket, resolve, reject) => ({ subid, value, ticket, resolve, reject }));
    this.subscriptionQueues.push(node, entry, settled);
  }

  private enqueue(node: string, value: Json, options: AppendOptions, keep: number | undefined): void {
    const { entry, settled } = this.track((ticket, resolve, reject) => ({ value, options, keep, ticket, resolve, reject }));
    this.itemQueues.push(node, entry, settled);
  }

  listNodes(): Promise<string[]> {
    return this.layout.nodeNames();
  }

  async loadNode(node: string): Promise<NodeRecord | undefined> {
    const v = await this.layout.getNode(node);
    return v === undefined || v === null ? undefined : (v as unknown as NodeRecord);
  }

  async saveNode(record: NodeRecord): Promise<void> {
    await this.layout.setNode(record.name, record as unknown as Json);
  }

  async deleteNode(node: string): Promise<void> {
    await this.settled(node);
    await this.subscriptionsSettled(node);
    // XEP-0060 §8.4.1: items leave storage before the node itself.
    await this.layout.items(node).delete();
    await this.layout.clearSubscriptions(node);
    await this.layout.setNode(node, undefined);
  }

  async loadSubscriptions(node: string): Promise<SubscriptionRecord[]> {
    await this.subscriptionsSettled(node);
    const all = await this.layout.subscriptions(node);
    return [...all.values()] as unknown as SubscriptionRecord[];
  }

  async saveSubscription(node: string, subscription: SubscriptionRecord): Promise<void> {
    if (this.writeBehind) return this.enqueueSubscription(node, subscription.subid, subscription as unknown as Json);
    await this.layout.setSubscription(node, subscription.subid, subscription as unknown as Json);
  }

  async deleteSubscription(node: string, subid: string): Promise<void> {
    if (this.writeBehind) return this.enqueueSubscription(node, subid, undefined);
    await this.layout.setSubscription(node, subid, undefined);
  }

  async appendItem(node: string, item: StoredItem, options: { keep?: number } = {}): Promise<void> {
    const value: StoredValue = { x: item.payload instanceof Element ? (elementToJson(item.payload) as unknown as Json) : null };
    const append: AppendOptions = { id: item.id, when: item.published, with: item.publisher };
    if (this.writeBehind) {
      this.enqueue(node, value as unknown as Json, append, options.keep);
      return;
    }
    if (options.keep !== undefined) append.keep = options.keep;
    await this.layout.items(node).append(value as unknown as Json, append);
  }

  private toItem(a: ArchiveItem<Json>): StoredItem {
    const item: StoredItem = { id: a.id, publisher: a.with ?? "", published: a.when };
    const x = (a.value as unknown as StoredValue | null)?.x;
    const payload = elementFromJson(x);
    if (payload) item.payload = payload;
    return item;
  }

  async getItem(node: string, id: string): Promise<StoredItem | undefined> {
    await this.settled(node);
    const a = await this.layout.items(node).get(id);
    return a ? this.toItem(a) : undefined;
  }

  async listItems(node: string, query: ItemListQuery = {}): Promise<StoredItem[]> {
    await this.settled(node);
    const q: ArchiveQuery = {};
    if (query.ids) q.ids = query.ids;
    if (query.after !== undefined) q.after = query.after;
    if (query.before !== undefined) q.before = query.before;
    if (query.reverse) q.reverse = true;
    // PubsubStore semantics: the first `limit` of the (possibly reversed) list. The archive takes the
    // last ones for `before` without `after` in chronological order, so slice here in that case.
    const sliceHere = query.limit !== undefined && query.before !== undefined && query.after === undefined && !query.reverse;
    if (query.limit !== undefined && !sliceHere) q.limit = query.limit;
    let found: ArchiveItem<Json>[];
    try {
      found = await this.layout.items(node).find(q);
    } catch (err) {
      if (isItemNotFound(err)) return [];
      throw err;
    }
    if (sliceHere) found = found.slice(0, query.limit);
    return found.map((a) => this.toItem(a));
  }

  async countItems(node: string): Promise<number> {
    await this.settled(node);
    return this.layout.items(node).count();
  }

  async deleteItems(node: string, query: ItemDeleteQuery = {}): Promise<number> {
    await this.settled(node);
    const q: { ids?: string[]; end?: number } = {};
    if (query.ids) q.ids = query.ids;
    // olderThan is exclusive; the archive's `end` is inclusive.
    if (query.olderThan !== undefined) q.end = query.olderThan - 1;
    return this.layout.items(node).delete(q.ids === undefined && q.end === undefined ? undefined : q);
  }

  async truncateItems(node: string, keep: number): Promise<number> {
    await this.settled(node);
    return this.layout.items(node).truncate(keep);
  }
}
