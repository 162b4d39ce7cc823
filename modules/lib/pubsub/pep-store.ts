// Where one account's PEP service keeps its data. Prosody's layout, keyed by the account's
// username so that deleting the account (the core's purgeUser, which runs before "user-deleted")
// removes everything of it, and listing one account's nodes never scans another's:
//   map "pep"                user = username, key = node            -> the node record
//   map "pep_subscriptions"  user = username, key = node NUL subid  -> a subscription
//   archive "pep_<node>"     user = username                        -> the node's items
// mod_pubsub's HeraldPubsubStore does the item and record encoding; the adapters below present
// these stores to it as its per-node stores (its "user" is the node name).

import type { ArchiveItem, ArchiveQuery, ArchiveStore, AppendOptions, Json, KeyvalStore, MapStore } from "../../../src/storage/types.js";
import { HeraldPubsubStore } from "./store.js";

export const PEP_STORES = { nodes: "pep", subscriptions: "pep_subscriptions", itemsPrefix: "pep_" } as const;

export interface PepStorage {
  openMap(name: string): MapStore<Json>;
  openArchive(name: string): ArchiveStore<Json>;
}

const SEP = "\u0000";

/** Node records: a keyval view (user = node) of the account's entries in map "pep". */
function nodeRecords(map: MapStore<Json>, username: string): KeyvalStore<Json> {
  return {
    get: (node) => map.get(username, node),
    set: (node, value) => map.set(username, node, value),
    users: async () => [...(await map.getAll(username)).keys()],
  };
}

/** Subscriptions: a map view (user = node, key = subid) of the account's entries in "pep_subscriptions". */
function subscriptionRecords(map: MapStore<Json>, username: string): MapStore<Json> {
  const key = (node: string, subid: string) => `${node}${SEP}${subid}`;
  const ofNode = async (node: string): Promise<Map<string, Json>> => {
    const out = new Map<string, Json>();
    const prefix = `${node}${SEP}`;
    for (const [k, v] of await map.getAll(username)) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
    return out;
  };
  return {
    get: (node, subid) => map.get(username, key(node, subid)),
    set: (node, subid, value) => map.set(username, key(node, subid), value),
    setMany: (node, entries) => map.setMany(username, entries.map(([subid, v]) => [key(node, subid), v])),
    getAll: ofNode,
    clear: async (node) => {
      const keys = [...(await ofNode(node)).keys()];
      if (keys.length > 0) await map.setMany(username, keys.map((subid) => [key(node, subid), undefined]));
    },
    users: async () => [...new Set([...(await map.getAll(username)).keys()].map((k) => k.slice(0, k.indexOf(SEP))))],
  };
}

/** Items: an archive view (user = node) over one archive per node, user = username. */
function itemArchives(storage: PepStorage, username: string, nodes: () => Promise<string[]>): ArchiveStore<Json> {
  const archives = new Map<string, ArchiveStore<Json>>();
  const of = (node: string): ArchiveStore<Json> => {
    let a = archives.get(node);
    if (!a) {
      a = storage.openArchive(PEP_STORES.itemsPrefix + node);
      archives.set(node, a);
    }
    return a;
  };
  return {
    append: (node, value, options?: AppendOptions) => of(node).append(username, value, options),
    appendMany: (node, entries, options) => of(node).appendMany(username, entries, options),
    find: (node, query?: ArchiveQuery): Promise<ArchiveItem<Json>[]> => of(node).find(username, query),
    get: (node, id) => of(node).get(username, id),
    count: (node, query) => of(node).count(username, query),
    delete: (node, query) => of(node).delete(username, query),
    truncate: (node, keep) => of(node).truncate(username, keep),
    users: nodes,
  };
}

/** The PubsubStore of one account's PEP service. */
export function pepStore(storage: PepStorage, username: string): HeraldPubsubStore {
  const nodes = nodeRecords(storage.openMap(PEP_STORES.nodes), username);
  return new HeraldPubsubStore({
    nodes,
    subscriptions: subscriptionRecords(storage.openMap(PEP_STORES.subscriptions), username),
    items: itemArchives(storage, username, () => nodes.users()),
  });
}
