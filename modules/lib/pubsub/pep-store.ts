// Where one account's PEP service keeps its data. Prosody's layout, keyed by the account's
// username so that deleting the account (the core's purgeUser, which runs before "user-deleted")
// removes everything of it, and listing one account's nodes never scans another's:
//   map "pep"                user = username, key = node            -> the node record
//   map "pep_subscriptions"  user = username, key = node NUL subid  -> a subscription
//   archive "pep_<node>"     user = username                        -> the node's items
// HeraldPubsubStore (store.ts) does the record and item encoding over this layout.

import type { ArchiveStore, Json, MapStore } from "../../../src/storage/types.js";
import { HeraldPubsubStore, type NodeItems, type PubsubLayout } from "./store.js";

export const PEP_STORES = { nodes: "pep", subscriptions: "pep_subscriptions", itemsPrefix: "pep_" } as const;

export interface PepStorage {
  openMap(name: string): MapStore<Json>;
  openArchive(name: string): ArchiveStore<Json>;
}

const SEP = "\u0000";

/** One account's PEP layout. */
export function pepLayout(storage: PepStorage, username: string): PubsubLayout {
  const nodes = storage.openMap(PEP_STORES.nodes);
  const subscriptions = storage.openMap(PEP_STORES.subscriptions);
  const key = (node: string, subid: string) => `${node}${SEP}${subid}`;
  const subscriptionsOf = async (node: string): Promise<Map<string, Json>> => {
    const out = new Map<string, Json>();
    const prefix = `${node}${SEP}`;
    for (const [k, v] of await subscriptions.getAll(username)) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
    return out;
  };
  const archives = new Map<string, NodeItems>();
  return {
    nodeNames: async () => [...(await nodes.getAll(username)).keys()],
    getNode: (node) => nodes.get(username, node),
    setNode: (node, value) => nodes.set(username, node, value),
    subscriptions: subscriptionsOf,
    setSubscription: (node, subid, value) => subscriptions.set(username, key(node, subid), value),
    setSubscriptions: (node, entries) =>
      subscriptions.setMany(
        username,
        entries.map(([subid, value]) => [key(node, subid), value]),
      ),
    async clearSubscriptions(node) {
      const subids = [...(await subscriptionsOf(node)).keys()];
      if (subids.length > 0) await subscriptions.setMany(username, subids.map((subid) => [key(node, subid), undefined]));
    },
    items(node) {
      let items = archives.get(node);
      if (!items) {
        const a = storage.openArchive(PEP_STORES.itemsPrefix + node);
        items = {
          append: (value, options) => a.append(username, value, options),
          appendMany: (entries, options) => a.appendMany(username, entries, options),
          find: (query) => a.find(username, query),
          get: (id) => a.get(username, id),
          count: () => a.count(username),
          delete: (query) => a.delete(username, query),
          truncate: (keep) => a.truncate(username, keep),
        };
        archives.set(node, items);
      }
      return items;
    },
  };
}

/** The PubsubStore of one account's PEP service. */
export function pepStore(storage: PepStorage, username: string): HeraldPubsubStore {
  return new HeraldPubsubStore(pepLayout(storage, username));
}
