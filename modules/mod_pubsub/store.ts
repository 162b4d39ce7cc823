// The pubsub service's PubsubStore over Herald's generic stores (LevelDB in production, memory in
// tests): node records in a keyval store (user = node), subscriptions in a map store (user = node,
// key = subid), items in an archive (user = node, id = item id, with = publisher, when = publish
// time). Every write resolves once durable (the LevelDB driver syncs), so a publish is answered
// only after its item is on disk. Payload elements are kept as a compact JSON tree (xml.ts).
//
// `prefix` scopes one service's data inside shared stores (PEP: one service per account).

import type { ItemDeleteQuery, ItemListQuery, NodeRecord, PubsubStore, StoredItem, SubscriptionRecord } from "../../src/util/pubsub/index.js";
import { isItemNotFound, type AppendOptions, type ArchiveItem, type ArchiveQuery, type ArchiveStore, type Json, type KeyvalStore, type MapStore } from "../../src/storage/types.js";
import { Element } from "../../src/xml/stanza.js";
import { elementToJson, isJsonElement, jsonToElement } from "./xml.js";

export interface PubsubStores {
  nodes: KeyvalStore<Json>;
  subscriptions: MapStore<Json>;
  items: ArchiveStore<Json>;
}

/** The store names a component uses (Prosody: pubsub_nodes / pubsub_<node> archives). */
export const STORE_NAMES = { nodes: "pubsub_nodes", subscriptions: "pubsub_subscriptions", items: "pubsub_items" } as const;

interface StoredValue {
  /** The payload element, or null for an item without payload. */
  x: Json;
}

export class HeraldPubsubStore implements PubsubStore {
  private readonly prefix: string;

  constructor(
    private readonly stores: PubsubStores,
    options: { prefix?: string } = {},
  ) {
    this.prefix = options.prefix ?? "";
  }

  private key(node: string): string {
    return this.prefix + node;
  }

  async listNodes(): Promise<string[]> {
    const users = await this.stores.nodes.users();
    if (this.prefix === "") return users;
    return users.filter((u) => u.startsWith(this.prefix)).map((u) => u.slice(this.prefix.length));
  }

  async loadNode(node: string): Promise<NodeRecord | undefined> {
    const v = await this.stores.nodes.get(this.key(node));
    return v === undefined || v === null ? undefined : (v as unknown as NodeRecord);
  }

  async saveNode(record: NodeRecord): Promise<void> {
    await this.stores.nodes.set(this.key(record.name), record as unknown as Json);
  }

  async deleteNode(node: string): Promise<void> {
    const k = this.key(node);
    // XEP-0060 §8.4.1: items leave storage before the node itself.
    await this.stores.items.delete(k);
    await this.stores.subscriptions.clear(k);
    await this.stores.nodes.set(k, undefined);
  }

  async loadSubscriptions(node: string): Promise<SubscriptionRecord[]> {
    const all = await this.stores.subscriptions.getAll(this.key(node));
    return [...all.values()] as unknown as SubscriptionRecord[];
  }

  async saveSubscription(node: string, subscription: SubscriptionRecord): Promise<void> {
    await this.stores.subscriptions.set(this.key(node), subscription.subid, subscription as unknown as Json);
  }

  async deleteSubscription(node: string, subid: string): Promise<void> {
    await this.stores.subscriptions.set(this.key(node), subid, undefined);
  }

  async appendItem(node: string, item: StoredItem, options: { keep?: number } = {}): Promise<void> {
    const value: StoredValue = { x: item.payload instanceof Element ? (elementToJson(item.payload) as unknown as Json) : null };
    const append: AppendOptions = { id: item.id, when: item.published, with: item.publisher };
    if (options.keep !== undefined) append.keep = options.keep;
    await this.stores.items.append(this.key(node), value as unknown as Json, append);
  }

  private toItem(a: ArchiveItem<Json>): StoredItem {
    const item: StoredItem = { id: a.id, publisher: a.with ?? "", published: a.when };
    const x = (a.value as unknown as StoredValue | null)?.x;
    if (isJsonElement(x)) item.payload = jsonToElement(x);
    return item;
  }

  async getItem(node: string, id: string): Promise<StoredItem | undefined> {
    const a = await this.stores.items.get(this.key(node), id);
    return a ? this.toItem(a) : undefined;
  }

  async listItems(node: string, query: ItemListQuery = {}): Promise<StoredItem[]> {
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
      found = await this.stores.items.find(this.key(node), q);
    } catch (err) {
      if (isItemNotFound(err)) return [];
      throw err;
    }
    if (sliceHere) found = found.slice(0, query.limit);
    return found.map((a) => this.toItem(a));
  }

  countItems(node: string): Promise<number> {
    return this.stores.items.count(this.key(node));
  }

  deleteItems(node: string, query: ItemDeleteQuery = {}): Promise<number> {
    const q: { ids?: string[]; end?: number } = {};
    if (query.ids) q.ids = query.ids;
    // olderThan is exclusive; the archive's `end` is inclusive.
    if (query.olderThan !== undefined) q.end = query.olderThan - 1;
    return this.stores.items.delete(this.key(node), q.ids === undefined && q.end === undefined ? undefined : q);
  }

  truncateItems(node: string, keep: number): Promise<number> {
    return this.stores.items.truncate(this.key(node), keep);
  }
}
