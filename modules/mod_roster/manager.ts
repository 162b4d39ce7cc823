// The roster store of a host: the one place where rosters are read and written while the server
// runs. mod_roster creates it and provides it as the "roster" service (../../modules/lib/roster/service.ts),
// so mod_roster's protocol and mod_presence's subscriptions share one cache and one lock per user.
// Stored format: ../lib/roster/store.ts.
//
// Versions (XEP-0237, RFC 6121 §2.6) count every stored change, Prosody's way: a roster never
// written reports "1", the first write makes it 1, then 2, 3... (its scansion tests expect these
// exact values). Because "1" is ambiguous, a client presenting "1" always gets the full roster.

import type { ModuleApi } from "../../src/modules/api.js";
import { SessionSlot, type ClientSession } from "../../src/sessions/session.js";
import type { MapStore } from "../../src/storage/types.js";
import { KeyedLock } from "../../src/util/keyed-lock.js";
import { jidPrepBare } from "../../src/util/jid.js";
import type { Logger } from "../../src/util/logger.js";
import { Lru } from "../../src/util/lru.js";
import { Element } from "../../src/xml/stanza.js";
import {
  NS_ROSTER,
  applyRosterSet,
  contactState,
  elementFromJson,
  elementToJson,
  isJsonElement,
  itemAfter,
  itemElement,
  publicItem,
  readStoredItem,
  sameItem,
  type JsonElement,
  type RosterItem,
  type StoredItem,
} from "../lib/roster/roster.js";
import type { RosterItemChanged, RosterService, RosterState, SubscriptionResult } from "../lib/roster/service.js";
import { META_KEY, type Meta, type StoredRecord } from "../lib/roster/store.js";
import { sameState, transition, visibleChange, type SubscriptionEvent, type Transition } from "../lib/roster/subscription.js";

const CACHE_MAX = 5000;

/** What the manager needs of its host: a subset of the ModuleApi. */
export type RosterHost = Pick<ModuleApi, "sessionsOf" | "fire">;

/** Sends a roster push later (an iq handler's afterReply: the push follows the result). */
export type PushScheduler = (push: () => void) => void;

/** What mod_roster keeps on a session: it requested the roster (RFC 6121 §2.1.6: pushes only then). */
export const rosterRequested = new SessionSlot<true>("roster");

/** A user's roster as the manager holds it (RosterState, writable here). */
interface MutableRosterState {
  items: Map<string, StoredItem>;
  ver: number;
  pending: Map<string, JsonElement>;
}

let pushCounter = 0;

export class RosterManager implements RosterService {
  private readonly lock = new KeyedLock<string>();
  /** Rosters of users with sessions, or being changed, are held beyond CACHE_MAX. */
  private readonly cache = new Lru<string, MutableRosterState>(
    CACHE_MAX,
    undefined,
    (user) => this.host.sessionsOf(user).length === 0 && !this.lock.busy(user),
  );
  private loading = new Map<string, Promise<MutableRosterState>>();

  constructor(
    private readonly store: MapStore<StoredRecord>,
    private readonly host: RosterHost,
    private readonly log: Logger,
  ) {}

  // ---- reading ----

  /** The user's roster (cached). */
  async roster(username: string): Promise<MutableRosterState> {
    const hit = this.cache.get(username);
    if (hit) return hit;
    let p = this.loading.get(username);
    if (!p) {
      p = this.load(username).finally(() => this.loading.delete(username));
      this.loading.set(username, p);
    }
    const loaded = await p;
    const now = this.cache.get(username);
    if (now) return now;
    this.remember(username, loaded);
    return loaded;
  }

  private async load(username: string): Promise<MutableRosterState> {
    const all = await this.store.getAll(username);
    const state: MutableRosterState = { items: new Map(), ver: 0, pending: new Map() };
    for (const [key, value] of all) {
      if (key === META_KEY) {
        const meta = value as Partial<Meta>;
        if (typeof meta.ver === "number" && Number.isSafeInteger(meta.ver) && meta.ver >= 0) state.ver = meta.ver;
        if (meta.pending && typeof meta.pending === "object") {
          for (const [jid, st] of Object.entries(meta.pending)) if (isJsonElement(st)) state.pending.set(jid, st);
        }
        continue;
      }
      const item = readStoredItem(value);
      if (item) state.items.set(key, item);
      else this.log.warn(`Ignoring an unreadable roster item ${key} of ${username}`);
    }
    return state;
  }

  private remember(username: string, state: MutableRosterState): void {
    this.cache.set(username, state);
  }

  /** Forget a user's cached roster (account deleted: the store was purged). */
  forget(username: string): void {
    this.cache.delete(username);
  }

  async item(username: string, jid: string): Promise<StoredItem | undefined> {
    return (await this.roster(username)).items.get(jid);
  }

  async contact(username: string, jid: string): Promise<RosterItem | null> {
    const bare = jidPrepBare(jid);
    if (bare === undefined) return null;
    const item = await this.item(username, bare);
    return item ? publicItem(bare, item) : null;
  }

  /** The version string the roster reports (XEP-0237). */
  static versionString(state: RosterState): string {
    return String(state.ver || 1);
  }

  /** May a client presenting `clientVer` be answered with an empty result (RFC 6121 §2.6.3)? */
  static upToDate(state: RosterState, clientVer: string | undefined): boolean {
    return clientVer !== undefined && state.ver >= 2 && clientVer === String(state.ver);
  }

  async items(username: string): Promise<RosterItem[]> {
    const st = await this.roster(username);
    return [...st.items].map(([jid, item]) => publicItem(jid, item));
  }

  /** Subscription requests waiting for the user's answer (RFC 6121 §3.1.3), as full stanzas. */
  async pendingRequests(username: string): Promise<Element[]> {
    const st = await this.roster(username);
    return [...st.pending.values()].map(elementFromJson);
  }

  async isPendingIn(username: string, jid: string): Promise<boolean> {
    return (await this.roster(username)).pending.has(jid);
  }

  // ---- writing ----

  /** One change at a time per user. */
  private locked<T>(username: string, fn: () => Promise<T>): Promise<T> {
    return this.lock.run(username, fn);
  }

  /**
   * Store a change of one contact (item and/or pending request) and bump the version.
   * `beforePush` runs once stored; `pushAfter`, when given, is handed the push instead of it being
   * sent at once (a roster set's push follows its iq result, RFC 6121 §2.3.2).
   */
  private async commit(
    username: string,
    st: MutableRosterState,
    jid: string,
    item: StoredItem | undefined,
    pending: JsonElement | undefined,
    opts: { push: boolean; beforePush?: () => void; pushAfter?: PushScheduler },
  ): Promise<void> {
    const pendingObj: Record<string, JsonElement> = {};
    for (const [k, v] of st.pending) if (k !== jid) pendingObj[k] = v;
    if (pending) pendingObj[jid] = pending;
    const meta: Meta = { ver: st.ver + 1, pending: pendingObj };
    await this.store.setMany(username, [
      [jid, item],
      [META_KEY, meta],
    ]);
    // Stored: now the cache (synchronously, so readers never see half a change).
    if (item) st.items.set(jid, item);
    else st.items.delete(jid);
    if (pending) st.pending.set(jid, pending);
    else st.pending.delete(jid);
    st.ver = meta.ver;
    if (!this.cache.has(username)) this.remember(username, st);
    opts.beforePush?.();
    if (opts.push) this.schedulePush(username, jid, item ?? null, st, opts.pushAfter);
  }

  /** A push of the roster as it is now, sent now or handed to `pushAfter`. */
  private schedulePush(username: string, jid: string, item: StoredItem | null, st: MutableRosterState, pushAfter?: PushScheduler): void {
    const ver = RosterManager.versionString(st);
    if (pushAfter) pushAfter(() => this.push(username, jid, item, ver));
    else this.push(username, jid, item, ver);
  }

  /** RFC 6121 §2.1.6: a roster push (at version `ver`) to every interested resource of the user. */
  push(username: string, jid: string, item: StoredItem | null, ver: string): void {
    const sessions = this.host.sessionsOf(username).filter((s) => rosterRequested.get(s) === true && !s.closed);
    if (sessions.length === 0) return;
    for (const s of sessions) {
      const iq = new Element("iq", { type: "set", id: `push${(++pushCounter).toString(36)}`, to: s.fullJid! });
      iq.children.push(new Element("query", { xmlns: NS_ROSTER, ver }, [itemElement(jid, item)]));
      s.send(iq);
    }
  }

  private async changed(username: string, jid: string, previous: StoredItem | undefined, item: StoredItem | undefined): Promise<void> {
    if (sameItem(previous, item)) return;
    const ev: RosterItemChanged = {
      username,
      jid,
      item: item ? publicItem(jid, item) : null,
      previous: previous ? publicItem(jid, previous) : null,
    };
    await this.host.fire("roster-item-changed", ev);
  }

  /** Add or update an item from a roster set (RFC 6121 §2.3, §2.4). */
  async setItem(
    username: string,
    jid: string,
    name: string | undefined,
    groups: string[],
    opts: { maxItems: number; pushAfter?: PushScheduler },
  ): Promise<{ ok: true } | { ok: false; condition: string; text: string }> {
    const result = await this.locked(username, async () => {
      const st = await this.roster(username);
      const previous = st.items.get(jid);
      if (!previous && st.items.size >= opts.maxItems) {
        return { ok: false as const, condition: "not-allowed", text: `A roster holds at most ${opts.maxItems} items` };
      }
      const item = applyRosterSet(previous, name, groups);
      if (sameItem(previous, item)) {
        // Nothing changes: answer, and push anyway as the RFC asks for (§2.3.2), at the same version.
        this.schedulePush(username, jid, item, st, opts.pushAfter);
        return { ok: true as const, previous, item };
      }
      await this.commit(username, st, jid, item, st.pending.get(jid), { push: true, pushAfter: opts.pushAfter });
      return { ok: true as const, previous, item };
    });
    if (!result.ok) return result;
    await this.changed(username, jid, result.previous, result.item);
    return { ok: true };
  }

  /**
   * Remove an item and any pending request from it (RFC 6121 §2.5). Returns the state it had, or
   * undefined when there was no such item (and no pending request).
   */
  async removeItem(username: string, jid: string, pushAfter?: PushScheduler): Promise<{ item?: StoredItem; pendingIn: boolean } | undefined> {
    const result = await this.locked(username, async () => {
      const st = await this.roster(username);
      const previous = st.items.get(jid);
      const pendingIn = st.pending.has(jid);
      if (!previous && !pendingIn) return undefined;
      await this.commit(username, st, jid, undefined, undefined, { push: previous !== undefined, pushAfter });
      return { item: previous, pendingIn };
    });
    if (result?.item) await this.changed(username, jid, result.item, undefined);
    return result;
  }

  /**
   * Apply one subscription stanza to the user's state for a contact (RFC 6121 Appendix A).
   * `request` is the full inbound subscribe stanza, kept while the request is pending (§3.1.3).
   * `beforePush` runs after the change is stored and before the roster push.
   */
  async applySubscription(
    username: string,
    jid: string,
    event: SubscriptionEvent,
    opts: { request?: Element; maxPending?: number; beforePush?: (t: Transition) => void } = {},
  ): Promise<SubscriptionResult> {
    const result = await this.locked(username, async () => {
      const st = await this.roster(username);
      const previousItem = st.items.get(jid);
      const before = contactState(previousItem, st.pending.has(jid));
      const t = transition(before, event);
      const item = itemAfter(previousItem, t.next);
      let pending = st.pending.get(jid);
      if (!t.next.pendingIn) pending = undefined;
      else if (!before.pendingIn && opts.request) {
        if (opts.maxPending !== undefined && st.pending.size >= opts.maxPending) {
          // Too many unanswered requests: this one is dropped rather than stored.
          return { ...t, next: before, forward: false, autoApprove: false, preApproved: false, item: previousItem, previousItem, pushed: false };
        }
        pending = elementToJson(opts.request);
      }
      if (sameState(before, t.next) && sameItem(previousItem, item)) {
        opts.beforePush?.(t);
        return { ...t, item, previousItem, pushed: false };
      }
      const push = visibleChange(before, t.next) && (item !== undefined || previousItem !== undefined);
      await this.commit(username, st, jid, item, pending, { push, beforePush: () => opts.beforePush?.(t) });
      return { ...t, item, previousItem, pushed: push };
    });
    await this.changed(username, jid, result.previousItem, result.item);
    return result;
  }

  /** Interested resources (RFC 6121 §2.1.6): those that requested the roster. */
  interested(username: string): ClientSession[] {
    return this.host.sessionsOf(username).filter((s) => rosterRequested.get(s) === true && !s.closed);
  }
}
