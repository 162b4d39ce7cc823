// What PEP remembers about who wants what (XEP-0163 §4.3.2 filtered notifications), bounded as
// Prosody's mod_pep bounds it (pep_info_cache_size):
//  - per account, each recipient (a contact's or an own resource's full JID, or a local contact's
//    bare JID) with the set of nodes it advertised "+notify" for;
//  - per caps hash, the "+notify" set a verified disco#info answer gave (so one query serves
//    every entity running the same client);
//  - the caps queries sent and not yet answered;
//  - per account, the nodes whose last item went to each resource (one copy per resource).

import { jidBare } from "../../src/util/jid.js";
import type { CapsClaim } from "./caps.js";
import { Lru } from "../../src/util/lru.js";

export const NO_NODES: ReadonlySet<string> = new Set<string>();

export class InterestTable {
  private readonly accounts: Lru<string, Map<string, ReadonlySet<string>>>;
  /**
   * Per account, the nodes whose last item went to each full JID while it wants them: a resource
   * is registered both by its full JID (its presence) and, through the caps of its account's
   * resources, by its bare JID, and gets each last item once whichever registration comes first.
   */
  private readonly sent: Lru<string, Map<string, Set<string>>>;

  constructor(capacity: number) {
    this.accounts = new Lru(capacity);
    this.sent = new Lru(capacity);
  }

  /** Did the last item of `node` of `username`'s service already go to `jid` (a full JID)? */
  lastItemSent(username: string, jid: string, node: string): boolean {
    return this.sent.peek(username)?.get(jid)?.has(node) ?? false;
  }

  /** The last item of `node` of `username`'s service went to `jid`. */
  noteLastItemSent(username: string, jid: string, node: string): void {
    let m = this.sent.get(username);
    if (!m) {
      m = new Map();
      this.sent.set(username, m);
    }
    let nodes = m.get(jid);
    if (!nodes) {
      nodes = new Set();
      m.set(jid, nodes);
    }
    nodes.add(node);
  }

  /**
   * `jid` (a full JID) now wants only `nodes` of `username`'s service: the last items it got of
   * the others are forgotten, so that wanting them again brings them again.
   */
  keepLastItemsSent(username: string, jid: string, nodes: ReadonlySet<string>): void {
    const m = this.sent.peek(username);
    const had = m?.get(jid);
    if (!m || !had) return;
    for (const node of had) if (!nodes.has(node)) had.delete(node);
    if (had.size === 0) m.delete(jid);
    if (m.size === 0) this.sent.delete(username);
  }

  /** Forget the last items sent from `username`'s service to the resources of `bare`. */
  forgetLastItemsSent(username: string, bare: string): void {
    const m = this.sent.peek(username);
    if (!m) return;
    for (const jid of m.keys()) if (jidBare(jid) === bare) m.delete(jid);
    if (m.size === 0) this.sent.delete(username);
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

  /** The full JIDs of `bare` registered with `username`'s service that want `node`. */
  resourcesWanting(username: string, bare: string, node: string): string[] {
    const m = this.accounts.peek(username);
    if (!m) return [];
    const out: string[] = [];
    for (const [jid, nodes] of m) if (jid !== bare && nodes.has(node) && jidBare(jid) === bare) out.push(jid);
    return out;
  }

  forgetAccount(username: string): void {
    this.accounts.delete(username);
    this.sent.delete(username);
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

/** An account's service waiting for the answer about an entity's caps. */
export interface CapsWaiter {
  username: string;
  /** The entity (a full JID) whose caps these are. */
  from: string;
  /** The entity is one of the account's own resources. */
  self: boolean;
}

/** A query to send: from `waiter.username`'s bare JID to `waiter.from`, about `claim`. */
export interface CapsAsk {
  waiter: CapsWaiter;
  claim: CapsClaim;
}

interface InFlight {
  claim: CapsClaim;
  /** The waiter whose query is out, and when it was sent. */
  asker: string;
  sentAt: number;
  /** By username NUL entity, in arrival order. */
  waiters: Map<string, CapsWaiter>;
}

/**
 * The caps queries in flight to remote entities, one per entity and claimed ver for the whole host:
 * a remote client's presence reaches every local contact's service, and each would otherwise ask it
 * across the federation. The first service asks; the others wait for that answer (the entity's own
 * account of itself, cached by mod_pep only under the hash it really has, XEP-0115 §5.4). Another
 * entity claiming the same ver is asked on its own while a query is out, as Prosody does; once an
 * answer is verified, the cache serves everyone. When the asking account stops waiting (the
 * entity's unavailable presence to it, other caps), the next waiting account asks; an unanswered
 * query is sent again when the entity repeats its presence after `timeoutMs`.
 */
export class SharedCapsQueries {
  private readonly inFlight: Lru<string, InFlight>;
  /** waiter (username NUL entity) -> the key of the query it waits for */
  private readonly waiting = new Map<string, string>();

  constructor(
    capacity: number,
    private readonly timeoutMs: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.inFlight = new Lru(capacity, (_key, entry) => {
      for (const k of entry.waiters.keys()) this.waiting.delete(k);
    });
  }

  private waiterKey(username: string, from: string): string {
    return `${username}\u0000${from}`;
  }

  private flightKey(claim: CapsClaim, from: string): string {
    return `${claim.key}\u0000${from}`;
  }

  /** `waiter` wants the answer about `claim`: the queries to send now (none when one is out). */
  join(claim: CapsClaim, waiter: CapsWaiter): CapsAsk[] {
    const wk = this.waiterKey(waiter.username, waiter.from);
    const key = this.flightKey(claim, waiter.from);
    const asks = this.waiting.get(wk) === key ? [] : this.leave(waiter.username, waiter.from);
    const now = this.clock();
    const entry = this.inFlight.get(key);
    if (!entry) {
      this.inFlight.set(key, { claim, asker: wk, sentAt: now, waiters: new Map([[wk, waiter]]) });
      this.waiting.set(wk, key);
      return [...asks, { waiter, claim }];
    }
    entry.waiters.set(wk, waiter);
    this.waiting.set(wk, key);
    if (now - entry.sentAt < this.timeoutMs) return asks;
    // The query went unanswered: ask again, from this account.
    entry.asker = wk;
    entry.sentAt = now;
    return [...asks, { waiter, claim }];
  }

  /** `from` answered the query about `claim`: every account waiting for it (removed). */
  answered(claim: CapsClaim, from: string): CapsWaiter[] {
    const key = this.flightKey(claim, from);
    const entry = this.inFlight.peek(key);
    if (!entry) return [];
    this.inFlight.delete(key);
    for (const wk of entry.waiters.keys()) this.waiting.delete(wk);
    return [...entry.waiters.values()];
  }

  /** `from` answered `username`'s query with an error: nobody waits for it any more. */
  failed(username: string, from: string): void {
    const key = this.waiting.get(this.waiterKey(username, from));
    if (key === undefined) return;
    const entry = this.inFlight.peek(key);
    this.inFlight.delete(key);
    this.waiting.delete(this.waiterKey(username, from));
    if (entry) for (const wk of entry.waiters.keys()) this.waiting.delete(wk);
  }

  /** `username` no longer waits about `from` (it left, or claims other caps now). */
  leave(username: string, from: string): CapsAsk[] {
    const wk = this.waiterKey(username, from);
    const key = this.waiting.get(wk);
    if (key === undefined) return [];
    this.waiting.delete(wk);
    const entry = this.inFlight.peek(key);
    if (!entry) return [];
    entry.waiters.delete(wk);
    if (entry.waiters.size === 0) {
      this.inFlight.delete(key);
      return [];
    }
    if (entry.asker !== wk) return [];
    // The asking account is gone: the next one asks.
    const [next, waiter] = entry.waiters.entries().next().value as [string, CapsWaiter];
    entry.asker = next;
    entry.sentAt = this.clock();
    return [{ waiter, claim: entry.claim }];
  }

  /** Queries in flight (for tests). */
  get size(): number {
    return this.inFlight.size;
  }
}
