// How rosters are stored (map store "roster", one map per user): shared by mod_roster, which reads
// and writes them while the server runs, and `herald import prosody`, which merges into them while
// it does not.
//
// Key = the contact's bare JID, value = StoredItem ({ name?, subscription, ask?, groups, approved? }).
// Key "" (never a JID) holds the user's meta: { ver: number, pending: { [contactBareJid]: JsonElement } }
// — the roster version and the full subscription requests received and not yet answered (RFC 6121
// §3.1.3). One setMany per change writes the item and the meta together.

import type { MapStore } from "../../../src/storage/types.js";
import { isJsonElement, readStoredItem, sameItem, type JsonElement, type StoredItem } from "./roster.js";

export interface Meta {
  ver: number;
  pending: Record<string, JsonElement>;
}

export type StoredRecord = StoredItem | Meta;

export const META_KEY = "";
/** The map store rosters live in. */
export const ROSTER_STORE = "roster";

/**
 * Merge items and pending inbound requests into a user's stored roster while no server runs
 * (`herald import prosody`): one setMany. Items equal to the stored ones change nothing; when
 * anything changes, the version becomes at least `minVer` and above the stored one, so clients
 * holding an older version get the whole roster. Returns the number of items added or changed.
 */
export async function mergeStoredRoster(
  store: MapStore<StoredRecord>,
  username: string,
  items: ReadonlyMap<string, StoredItem>,
  pending: ReadonlyMap<string, JsonElement>,
  minVer = 0,
): Promise<number> {
  const all = await store.getAll(username);
  const meta = (all.get(META_KEY) ?? {}) as Partial<Meta>;
  const ver = typeof meta.ver === "number" && Number.isSafeInteger(meta.ver) && meta.ver >= 0 ? meta.ver : 0;
  const pendingObj: Record<string, JsonElement> = {};
  if (meta.pending && typeof meta.pending === "object") {
    for (const [jid, st] of Object.entries(meta.pending)) if (isJsonElement(st)) pendingObj[jid] = st;
  }
  const entries: Array<[string, StoredRecord | undefined]> = [];
  for (const [jid, item] of items) {
    if (jid === META_KEY) continue;
    const old = readStoredItem(all.get(jid));
    if (!old || !sameItem(old, item)) entries.push([jid, item]);
  }
  let pendingChanged = false;
  for (const [jid, st] of pending) {
    if (!(jid in pendingObj)) {
      pendingObj[jid] = st;
      pendingChanged = true;
    }
  }
  if (entries.length === 0 && !pendingChanged) return 0;
  const next: Meta = { ver: all.size === 0 ? Math.max(minVer, 1) : Math.max(ver + 1, minVer), pending: pendingObj };
  await store.setMany(username, [...entries, [META_KEY, next]]);
  return entries.length;
}
