// The roster service: what mod_roster provides (`module.provides("roster", ...)`) to the modules of
// its host that work on rosters, mod_presence's subscriptions first. They get it with
// `await module.depends("roster")`, so both share one cache and one lock per user.

import type { ClientSession } from "../../../src/sessions/session.js";
import type { Element } from "../../../src/xml/stanza.js";
import type { JsonElement, RosterItem, StoredItem } from "./roster.js";
import type { SubscriptionEvent, Transition } from "./subscription.js";

/** A user's roster in memory. Read-only outside mod_roster. */
export interface RosterState {
  readonly items: ReadonlyMap<string, StoredItem>;
  /** Stored changes so far (0: never written). */
  readonly ver: number;
  /** Pending inbound subscription requests (RFC 6121 §3.1.3), by contact bare JID. */
  readonly pending: ReadonlyMap<string, JsonElement>;
}

/** What `roster-item-changed` carries (fired on the host bus after every stored item change). */
export interface RosterItemChanged {
  username: string;
  jid: string;
  item: RosterItem | null;
  previous: RosterItem | null;
}

export interface SubscriptionResult extends Transition {
  item: StoredItem | undefined;
  previousItem: StoredItem | undefined;
  /** The stored change showed in the roster (a push was sent). */
  pushed: boolean;
}

export interface RosterService {
  /** The user's roster (cached). */
  roster(username: string): Promise<RosterState>;
  /** The item of a contact (bare JID, prepped), if any. */
  item(username: string, jid: string): Promise<StoredItem | undefined>;
  /** The item of any JID (prepped to its bare JID here), as other modules see it; null when there is none or the JID is invalid. */
  contact(username: string, jid: string): Promise<RosterItem | null>;
  /** Every item, as other modules see them. */
  items(username: string): Promise<RosterItem[]>;
  /** Subscription requests waiting for the user's answer (RFC 6121 §3.1.3), as full stanzas. */
  pendingRequests(username: string): Promise<Element[]>;
  /**
   * Apply one subscription stanza to the user's state for a contact (RFC 6121 Appendix A).
   * `request` is the full inbound subscribe stanza, kept while the request is pending (§3.1.3);
   * `beforePush` runs after the change is stored and before the roster push.
   */
  applySubscription(
    username: string,
    jid: string,
    event: SubscriptionEvent,
    opts?: { request?: Element; maxPending?: number; beforePush?: (t: Transition) => void },
  ): Promise<SubscriptionResult>;
  /** Interested resources (RFC 6121 §2.1.6): those that requested the roster. */
  interested(username: string): ClientSession[];
  /** Forget a user's cached roster (account deleted: the store was purged). */
  forget(username: string): void;
}

declare module "../../../src/modules/api.js" {
  interface ServiceMap {
    roster: RosterService;
  }
}
