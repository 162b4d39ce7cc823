// XEP-0191 pure parts: the stored list, JID matching (the XEP's "JID Matching" section) and reading
// <block/> / <unblock/> requests.

import { jidBare, jidPrep, jidSplit } from "../../src/util/jid.js";
import type { Element } from "../../src/xml/stanza.js";

export const NS_BLOCKING = "urn:xmpp:blocking";
export const NS_BLOCKING_ERRORS = "urn:xmpp:blocking:errors";

/** What the keyval store "blocklist" keeps per user: the blocked JIDs in the order they were blocked. */
export interface StoredBlocklist {
  items: Array<{ jid: string; since: number }>;
}

/** A user's blocklist in memory. Never changed once built: edit() returns a new list. */
export class Blocklist {
  private readonly entries: Map<string, number>;

  /** The list of an account that has none (shared: caching "no list" costs no memory per account). */
  static readonly EMPTY: Blocklist = new Blocklist();

  /** The list stored (or not) for an account; no list or an empty one is EMPTY. */
  static from(stored: StoredBlocklist | undefined): Blocklist {
    const list = new Blocklist(stored);
    return list.size === 0 ? Blocklist.EMPTY : list;
  }

  constructor(stored?: StoredBlocklist) {
    this.entries = new Map();
    for (const it of stored?.items ?? []) if (typeof it?.jid === "string") this.entries.set(it.jid, typeof it.since === "number" ? it.since : 0);
  }

  get size(): number {
    return this.entries.size;
  }

  jids(): string[] {
    return [...this.entries.keys()];
  }

  has(jid: string): boolean {
    return this.entries.has(jid);
  }

  /**
   * Is a stanza from/to `jid` (prepped) blocked? XEP-0191 JID matching, as in XEP-0016:
   * user@domain/resource (only that resource), user@domain (any resource), domain/resource,
   * domain (the domain and every JID at it).
   */
  blocks(jid: string): boolean {
    if (this.entries.size === 0) return false;
    if (this.entries.has(jid)) return true;
    const parts = jidSplit(jid);
    if (!parts) return false;
    if (parts.node !== undefined && this.entries.has(jidBare(jid))) return true;
    if (parts.resource !== undefined && parts.node !== undefined && this.entries.has(`${parts.domain}/${parts.resource}`)) return true;
    return this.entries.has(parts.domain);
  }

  /** A new list with `jids` added (blocked now) or removed; `undefined` jids with unblock: empty list. */
  edit(action: "block" | "unblock", jids: string[], now: number): Blocklist {
    const next = new Blocklist(this.toStored());
    if (action === "block") {
      for (const j of jids) if (!next.entries.has(j)) next.entries.set(j, now);
    } else if (jids.length === 0) {
      next.entries.clear(); // XEP-0191 "User Unblocks All Contacts"
    } else {
      for (const j of jids) next.entries.delete(j);
    }
    return next;
  }

  toStored(): StoredBlocklist {
    return { items: [...this.entries].map(([jid, since]) => ({ jid, since })) };
  }
}

/** The JIDs of a <block/> or <unblock/> request, prepped; or the error to answer. */
export function readItems(action: Element): { ok: true; jids: string[] } | { ok: false; condition: "jid-malformed" | "bad-request" } {
  const jids: string[] = [];
  for (const item of action.childElements("item", NS_BLOCKING)) {
    const jid = item.attrs.jid === undefined ? undefined : jidPrep(item.attrs.jid);
    if (jid === undefined) return { ok: false, condition: "jid-malformed" };
    if (!jids.includes(jid)) jids.push(jid);
  }
  // XEP-0191: a <block/> without any <item/> is a bad request (an empty <unblock/> unblocks all).
  if (action.name === "block" && jids.length === 0) return { ok: false, condition: "bad-request" };
  return { ok: true, jids };
}
