// The presence service: what mod_presence provides (`module.provides("presence", ...)`) and every
// module that needs to know who is available asks (message delivery, carbons, offline delivery,
// blocking, last activity, push, PEP, pubsub access). The presence itself lives in mod_presence's
// slot on each session; only mod_presence writes it.
//
// A module that works without mod_presence on its host (message delivery does: then nobody is
// available and messages go to offline storage) looks it up with `module.serviceOn(module.host,
// "presence")` when it needs it, rather than loading it with `depends`.

import type { EventSpec } from "../../../src/events/bus.js";
import type { ClientSession } from "../../../src/sessions/session.js";
import type { Element } from "../../../src/xml/stanza.js";

/** XMPP <show/> values (RFC 6121 §4.7.2.1), and "online" for none, as XEP-0060's pubsub#show-values name it. */
export type Show = "online" | "away" | "chat" | "dnd" | "xa";

/** The <show/> of an available presence; absent or not one of the four RFC 6121 values: "online". */
export function parseShow(presence: Element): Show {
  const text = presence.getChildText("show")?.trim();
  return text === "away" || text === "chat" || text === "dnd" || text === "xa" ? text : "online";
}

/** One available resource of an account. `presence` is the session's own stored presence, shared and not copied: do not mutate it. */
export interface AvailableResource {
  jid: string;
  priority: number;
  show: Show;
  presence: Element;
}

export interface PresenceService {
  /**
   * The last available presence the session broadcast (`from` its full JID, no `to`), or undefined
   * while it is unavailable. Shared, not copied: do not mutate it.
   */
  current(session: ClientSession): Element | undefined;
  /** The priority of that presence (RFC 6121 §4.7.2.3), or undefined while the session is unavailable. */
  priority(session: ClientSession): number | undefined;
  /** The account's available sessions on this host (open ones). */
  availableSessions(username: string): ClientSession[];
  /**
   * The account's available resources on this host (a component asks with
   * `module.serviceOn("<user's host>", "presence")`). Each `presence` IS the session's stored
   * presence, not a copy (pubsub asks this per subscriber during fan-out): do not mutate it.
   */
  available(username: string): AvailableResource[];
}

declare module "../../../src/modules/api.js" {
  interface ServiceMap {
    presence: PresenceService;
  }
}

/** Data of `presence-available`. */
export interface PresenceAvailableEvent {
  session: ClientSession;
  stanza: Element;
  /** The session's first available presence (fired after the probes and the pending subscription requests). */
  initial: boolean;
}

/** Data of `presence-unavailable`. */
export interface PresenceUnavailableEvent {
  session: ClientSession;
  stanza: Element;
}

declare module "../../../src/events/bus.js" {
  interface EventMap {
    /**
     * After a broadcast of available presence went out (a broadcast held back by the flood policy
     * fires when it finally goes out); offline delivery and PEP hook this.
     */
    "presence-available": EventSpec<PresenceAvailableEvent, never>;
    /** After the unavailable broadcast of a session that was available (also when it ends). */
    "presence-unavailable": EventSpec<PresenceUnavailableEvent, never>;
  }
}

/** Nobody is available: what a host without mod_presence looks like to the modules that ask. */
export const NOBODY_AVAILABLE: PresenceService = {
  current: () => undefined,
  priority: () => undefined,
  availableSessions: () => [],
  available: () => [],
};
