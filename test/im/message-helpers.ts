// Shared by the message, offline, carbons and blocking tests. Presence stanzas are skipped where
// a test is about something else: broadcasts depend on mod_presence and the roster.

import type { Element } from "../../src/xml/stanza.js";
import type { RawClient } from "../helpers/xmpp-client.js";

export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

export { errorCondition } from "../helpers/errors.js";

/** The next stanza that is not a presence (presence broadcasts depend on mod_presence and the roster). */
export function nextNonPresence(c: RawClient, timeoutMs = 5000): Promise<Element> {
  return c.nextWhere((el) => el.name !== "presence", timeoutMs);
}

/** Nothing but presence arrives within `ms`. */
export function noMessage(c: RawClient, ms = 300): Promise<void> {
  return c.nothingWhere((el) => el.name !== "presence", ms);
}

/** Send available presence and wait for its echo (RFC 6121 §4.2.2: the server sends it back). */
export async function goOnline(c: RawClient, priority?: number): Promise<void> {
  c.send(priority === undefined ? "<presence/>" : `<presence><priority>${priority}</priority></presence>`);
  const deadline = Date.now() + 5000;
  for (;;) {
    const el = await c.next(Math.max(1, deadline - Date.now()));
    if (el.name === "presence" && el.attrs.from === c.jid && el.attrs.type === undefined) return;
    if (el.name !== "presence") throw new Error(`expected the presence echo, got ${el}`);
  }
}
