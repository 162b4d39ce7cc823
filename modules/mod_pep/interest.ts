// What PEP remembers about who wants what (XEP-0163 §4.3.2 filtered notifications), bounded as
// Prosody's mod_pep bounds it (pep_info_cache_size):
//  - per account, each recipient (a contact's or an own resource's full JID, or a local contact's
//    bare JID) with the set of nodes it advertised "+notify" for;
//  - per caps hash, the "+notify" set a verified disco#info answer gave (so one query serves
//    every entity running the same client);
//  - the caps queries sent and not yet answered.

import { jidBare } from "../../src/util/jid.js";
import type { CapsClaim } from "./caps.js";
import { Lru } from "../../src/util/lru.js";

export const NO_NODES: ReadonlySet<string> = new Set<string>();

export class InterestTable {
  private readonly accounts: Lru<string, Map<string, ReadonlySet<string>>>;

  constructor(capacity: number) {
    this.accounts = new Lru(capacity);
  }

  get(username: string, jid: string): ReadonlySet<string> | undefined {
    return this.accounts.peek(username)?.get(jid);
  }

  /** Set the nodes `jid` wants from `username`'s service; an empty set forgets it. */
  set(username: string, jid: string, nodes: ReadonlySet<string>): void {
    let m = this.accounts.get(username);
    if (nodes.size === 0) {
      m?.delete(jid);
      if (m && m.size === 0) this.accounts.delete(username);
      return;
    }
    if (!m) {
      m = new Map();
      this.accounts.set(username, m);
    }
    m.set(jid, nodes);
  }

  /** The recipients of `username`'s service that want `node`. */
  wanting(username: string, node: string): string[] {
    const m = this.accounts.peek(username);
    if (!m) return [];
    const out: string[] = [];
    for (const [jid, nodes] of m) if (nodes.has(node)) out.push(jid);
    return out;
  }

  /** Recipients of `username`'s service whose bare JID is `bare`. */
  recipientsOf(username: string, bare: string): string[] {
    const m = this.accounts.peek(username);
    return m ? [...m.keys()].filter((jid) => jidBare(jid) === bare) : [];
  }

  forgetAccount(username: string): void {
    this.accounts.delete(username);
  }
}

/** Caps queries PEP sent, by account and entity, until answered. */
export class PendingQueries {
  private readonly pending: Lru<string, Map<string, CapsClaim>>;

  constructor(capacity: number) {
    this.pending = new Lru(capacity);
  }

  private key(username: string, jid: string): string {
    return `${username}\u0000${jid}`;
  }

  add(username: string, jid: string, claim: CapsClaim): void {
    const k = this.key(username, jid);
    let m = this.pending.get(k);
    if (!m) {
      m = new Map();
      this.pending.set(k, m);
    }
    m.set(claim.queryNode, claim);
  }

  /**
   * The claim an answer is for, removed from the pending list: the one of the answer's node, or
   * (an answer without node) the only one pending. Undefined for an answer nobody asked for.
   */
  take(username: string, jid: string, node: string | undefined): CapsClaim | undefined {
    const k = this.key(username, jid);
    const m = this.pending.peek(k);
    if (!m) return undefined;
    let claim: CapsClaim | undefined;
    if (node !== undefined) claim = m.get(node);
    else if (m.size === 1) claim = m.values().next().value;
    if (!claim) return undefined;
    m.delete(claim.queryNode);
    if (m.size === 0) this.pending.delete(k);
    return claim;
  }

  forget(username: string, jid: string): void {
    this.pending.delete(this.key(username, jid));
  }
}
