// Presence, as data: priorities, delayed copies of stored presence, the per-session state the
// module keeps, and the rate policy that coalesces presence floods. No I/O here.

import { xmppDateTime } from "../../src/util/datetime.js";
import { Element } from "../../src/xml/stanza.js";

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
/** XMPP <show/> values (RFC 6121 §4.7.2.1), and "online" for none, as XEP-0060's pubsub#show-values name it. */
export type Show = "online" | "away" | "chat" | "dnd" | "xa";

/** The <show/> of an available presence; absent or not one of the four RFC 6121 values: "online". */
export function parseShow(presence: Element): Show {
  const text = presence.getChildText("show")?.trim();
  return text === "away" || text === "chat" || text === "dnd" || text === "xa" ? text : "online";
}

/**
 * One entry of mod_presence's `presence-get-available` answer. `presence` is the session's own
 * stored presence, shared and not copied: do not mutate it.
 */
export interface AvailableResource {
  jid: string;
  priority: number;
  show: Show;
  presence: Element;
}

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

/** What mod_presence keeps per session (in session.data under "presence"). */
export interface SessionPresence {
  /** RFC 6121 §4.6: JIDs that got directed available presence and must hear of unavailability. */
  directed: Set<string>;
  /** Bare JIDs that answered a presence with an error during this session (§4.2.2, §4.4.2). */
  errored: Set<string>;
  /** When session.presence was received (the delay stamp of copies sent later). */
  receivedAt: number;
  bucket: TokenBucket;
  /** A broadcast was held back by the rate policy; the latest presence goes out when allowed. */
  deferred: boolean;
  timer?: NodeJS.Timeout;
}

export function newSessionPresence(burst: number, ratePerSecond: number): SessionPresence {
  return {
    directed: new Set(),
    errored: new Set(),
    receivedAt: 0,
    bucket: new TokenBucket(burst, ratePerSecond),
    deferred: false,
  };
}
