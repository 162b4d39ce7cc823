// Presence, as data: priorities, delayed copies of stored presence, the per-session state the
// module keeps, who gets a broadcast, directed presence bookkeeping (RFC 6121 §4.6), and the rate
// policy that coalesces presence floods. No I/O here.

import { xmppDateTime } from "../../src/util/datetime.js";
import type { Timer } from "../../src/modules/api.js";
import { SessionSlot, type ClientSession } from "../../src/sessions/session.js";
import { jidBare } from "../../src/util/jid.js";
import { Element } from "../../src/xml/stanza.js";
import { parseShow, type AvailableResource } from "../lib/im/presence.js";
import { contactSeesUser, userSeesContact, type StoredItem } from "../lib/roster/roster.js";

export const NS_DELAY = "urn:xmpp:delay";

export const SUBSCRIPTION_TYPES = new Set(["subscribe", "subscribed", "unsubscribe", "unsubscribed"]);

/** RFC 6121 §4.7.2.3: an integer from -128 to +127; absent or unreadable means 0. */
export function parsePriority(presence: Element): number {
  const text = presence.getChildText("priority")?.trim();
  if (text === undefined || !/^[+-]?\d{1,10}$/.test(text)) return 0;
  const n = Number.parseInt(text, 10);
  return Math.max(-128, Math.min(127, n));
}

/** XEP-0082 date-time, whole seconds, UTC. */
export { xmppDateTime };

/** A copy of a stanza with new addresses (children shared: stanzas are never mutated once built). */
export function readdress(stanza: Element, from: string | undefined, to: string | undefined): Element {
  const attrs = { ...stanza.attrs };
  if (from === undefined) delete attrs.from;
  else attrs.from = from;
  if (to === undefined) delete attrs.to;
  else attrs.to = to;
  return new Element(stanza.name, attrs, stanza.children.slice());
}

/**
 * Stored presence sent again later (probe answers, new contacts, new resources) carries a
 * XEP-0203 delay saying when the server received it, as Prosody does.
 */
export function withDelay(stanza: Element, receivedAt: number, host: string): Element {
  const copy = new Element(stanza.name, { ...stanza.attrs }, stanza.children.filter((c) => typeof c === "string" || c.name !== "delay" || c.attrs.xmlns !== NS_DELAY));
  copy.children.push(new Element("delay", { xmlns: NS_DELAY, stamp: xmppDateTime(receivedAt), from: host }));
  return copy;
}

/**
 * A token bucket: `capacity` broadcasts at once, refilled at `ratePerSecond`. Presence beyond it is
 * not lost: the latest presence is broadcast when a token is back (see mod_presence).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly capacity: number,
    readonly ratePerSecond: number,
    now = Date.now(),
  ) {
    this.tokens = capacity;
    this.last = now;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
      this.last = now;
    }
  }

  take(now = Date.now()): boolean {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Milliseconds until a token is available (0 if one is). */
  wait(now = Date.now()): number {
    this.refill(now);
    if (this.tokens >= 1) return 0;
    return Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
  }
}

/** What mod_presence keeps on each session (its SessionSlot "presence"). */
export interface SessionPresence {
  /** The last available presence the client broadcast (`from` its full JID, no `to`); undefined while unavailable. */
  current?: Element;
  /** Priority of that presence (RFC 6121 §4.7.2.3); 0 while unavailable. */
  priority: number;
  /** RFC 6121 §4.6: JIDs that got directed available presence and must hear of unavailability. */
  directed: Set<string>;
  /** Bare JIDs that answered a presence with an error during this session (§4.2.2, §4.4.2). */
  errored: Set<string>;
  /** When `current` was received (the delay stamp of copies sent later). */
  receivedAt: number;
  bucket: TokenBucket;
  /** A broadcast was held back by the rate policy; the latest presence goes out when allowed. */
  deferred: boolean;
  timer?: Timer;
}

export const presenceSlot = new SessionSlot<SessionPresence>("presence");

export function newSessionPresence(burst: number, ratePerSecond: number): SessionPresence {
  return {
    priority: 0,
    directed: new Set(),
    errored: new Set(),
    receivedAt: 0,
    bucket: new TokenBucket(burst, ratePerSecond),
    deferred: false,
  };
}

/** The session's available presence, or undefined while it is unavailable or closed. */
export function currentPresence(session: ClientSession): Element | undefined {
  return session.closed ? undefined : presenceSlot.get(session)?.current;
}

/** The available resources among `sessions` (mod_presence's answer to who is online). */
export function availableResources(sessions: Iterable<ClientSession>): AvailableResource[] {
  const out: AvailableResource[] = [];
  for (const s of sessions) {
    const st = presenceSlot.get(s);
    if (st?.current === undefined || s.closed) continue;
    out.push({ jid: s.fullJid!, priority: st.priority, show: parseShow(st.current), presence: st.current });
  }
  return out;
}

/** RFC 6121 §4.2.2, §4.4.2: the contacts that see the user (from/both), minus those that answered with errors. */
export function audience(items: ReadonlyMap<string, StoredItem>, errored: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const [jid, item] of items) if (contactSeesUser(item.subscription) && !errored.has(jid)) out.push(jid);
  return out;
}

/** RFC 6121 §4.2.2: the contacts an initial presence probes (those the user sees: to/both). */
export function probeTargets(items: ReadonlyMap<string, StoredItem>): string[] {
  const out: string[] = [];
  for (const [jid, item] of items) if (userSeesContact(item.subscription)) out.push(jid);
  return out;
}

/**
 * RFC 6121 §4.6: directed presence from a session to `to`, which does not see the user's presence
 * through a subscription. Available presence is remembered (so that the recipient hears of the
 * session's unavailability, §4.6.3), unavailable presence forgets it. Beyond `max` remembered
 * recipients a new one is refused: untracked, it would see the user available forever.
 */
export function trackDirected(directed: Set<string>, to: string, type: "unavailable" | undefined, max: number): "ok" | "refused" {
  if (type === "unavailable") {
    directed.delete(to);
    return "ok";
  }
  if (directed.has(to)) return "ok";
  if (directed.size >= max) return "refused";
  directed.add(to);
  return "ok";
}

/** RFC 6121 §4.6.3: the directed-presence recipients that an unavailable broadcast to `covered` (full or bare JIDs) did not reach. */
export function uncoveredDirected(directed: Iterable<string>, covered: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const jid of directed) if (!covered.has(jid) && !covered.has(jidBare(jid))) out.push(jid);
  return out;
}
