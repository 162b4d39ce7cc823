// The durable side of a pubsub service. Narrow on purpose, so the module can lay it over Herald's
// generic stores: node records in a MapStore (key = node name), subscriptions in a MapStore per
// node (key = subid), items in an ArchiveStore per node (id = item id, with = publisher,
// when = publish time). Every method resolves only once the data is durable.

import type { NodeRecord, StoredItem, SubscriptionRecord } from "./types.js";

export interface ItemListQuery {
  /** Only these ids (in log order). */
  ids?: string[];
  /** Strictly after this id in log order. */
  after?: string;
  /** Strictly before this id in log order. */
  before?: string;
  limit?: number;
  /** Newest first (the limit then takes the newest). */
  reverse?: boolean;
}

export interface ItemDeleteQuery {
  ids?: string[];
  /** Items published strictly before this time (ms). */
  olderThan?: number;
}

export interface PubsubStore {
  /** Names of all nodes. */
  listNodes(): Promise<string[]>;
  loadNode(node: string): Promise<NodeRecord | undefined>;
  saveNode(record: NodeRecord): Promise<void>;
  /** Remove the node record, its subscriptions and its items. */
  deleteNode(node: string): Promise<void>;

  loadSubscriptions(node: string): Promise<SubscriptionRecord[]>;
  saveSubscription(node: string, subscription: SubscriptionRecord): Promise<void>;
  deleteSubscription(node: string, subid: string): Promise<void>;

  /**
   * Append to the node's log; an item with the same id is removed first (it becomes the newest).
   * `keep`: then keep only the newest `keep` items (a positive integer), in the same durable write.
   */
  appendItem(node: string, item: StoredItem, options?: { keep?: number }): Promise<void>;
  getItem(node: string, id: string): Promise<StoredItem | undefined>;
  listItems(node: string, query?: ItemListQuery): Promise<StoredItem[]>;
  countItems(node: string): Promise<number>;
  /** Delete matching items (no query: all). Returns the number deleted. */
  deleteItems(node: string, query?: ItemDeleteQuery): Promise<number>;
  /** Keep only the newest `keep` items. Returns the number deleted. */
  truncateItems(node: string, keep: number): Promise<number>;
}

interface MemoryNode {
  record?: NodeRecord;
  subscriptions: Map<string, SubscriptionRecord>;
  items: StoredItem[];
}

function cloneData<T>(value: T): T {
  return structuredClone(value);
}

/** Items keep their payload by reference (it may be an element object); everything else is copied. */
function cloneItem(item: StoredItem): StoredItem {
  return { ...item };
}

/** The in-memory PubsubStore, for tests and for services that need no durability. */
export class MemoryPubsubStore implements PubsubStore {
  private readonly nodes = new Map<string, MemoryNode>();

  private entry(node: string): MemoryNode {
    let e = this.nodes.get(node);
    if (!e) {
      e = { subscriptions: new Map(), items: [] };
      this.nodes.set(node, e);
    }
    return e;
  }

  async listNodes(): Promise<string[]> {
    return [...this.nodes.entries()].filter(([, e]) => e.record !== undefined).map(([name]) => name);
  }

  async loadNode(node: string): Promise<NodeRecord | undefined> {
    const record = this.nodes.get(node)?.record;
    return record ? cloneData(record) : undefined;
  }

  async saveNode(record: NodeRecord): Promise<void> {
    this.entry(record.name).record = cloneData(record);
  }

  async deleteNode(node: string): Promise<void> {
    this.nodes.delete(node);
  }

  async loadSubscriptions(node: string): Promise<SubscriptionRecord[]> {
    return [...(this.nodes.get(node)?.subscriptions.values() ?? [])].map(cloneData);
  }

  async saveSubscription(node: string, subscription: SubscriptionRecord): Promise<void> {
    this.entry(node).subscriptions.set(subscription.subid, cloneData(subscription));
  }

  async deleteSubscription(node: string, subid: string): Promise<void> {
    this.nodes.get(node)?.subscriptions.delete(subid);
  }

  async appendItem(node: string, item: StoredItem, options: { keep?: number } = {}): Promise<void> {
    const e = this.entry(node);
    e.items = e.items.filter((i) => i.id !== item.id);
    e.items.push(cloneItem(item));
    if (options.keep !== undefined && e.items.length > options.keep) e.items = e.items.slice(e.items.length - options.keep);
  }

  async getItem(node: string, id: string): Promise<StoredItem | undefined> {
    const item = this.nodes.get(node)?.items.find((i) => i.id === id);
    return item ? cloneItem(item) : undefined;
  }

  async listItems(node: string, query: ItemListQuery = {}): Promise<StoredItem[]> {
    let items = this.nodes.get(node)?.items ?? [];
    if (query.after !== undefined) {
      const at = items.findIndex((i) => i.id === query.after);
      items = at < 0 ? [] : items.slice(at + 1);
    }
    if (query.before !== undefined) {
      const at = items.findIndex((i) => i.id === query.before);
      items = at < 0 ? [] : items.slice(0, at);
    }
    if (query.ids) {
      const wanted = new Set(query.ids);
      items = items.filter((i) => wanted.has(i.id));
    }
    if (query.reverse) items = [...items].reverse();
    if (query.limit !== undefined) items = items.slice(0, query.limit);
    return items.map(cloneItem);
  }

  async countItems(node: string): Promise<number> {
    return this.nodes.get(node)?.items.length ?? 0;
  }

  async deleteItems(node: string, query: ItemDeleteQuery = {}): Promise<number> {
    const e = this.nodes.get(node);
    if (!e) return 0;
    const before = e.items.length;
    const ids = query.ids ? new Set(query.ids) : undefined;
    const all = ids === undefined && query.olderThan === undefined;
    e.items = e.items.filter((i) => {
      if (all) return false;
      if (ids && !ids.has(i.id)) return true;
      if (query.olderThan !== undefined && i.published >= query.olderThan) return true;
      return false;
    });
    return before - e.items.length;
  }

  async truncateItems(node: string, keep: number): Promise<number> {
    const e = this.nodes.get(node);
    if (!e || e.items.length <= keep) return 0;
    const removed = e.items.length - keep;
    e.items = e.items.slice(removed);
    return removed;
  }
}
